//! Stable codes and Japanese labels for the domain's enums.
//!
//! Every enum people see has three faces: the Rust variant, a stable snake_case code
//! (`as_str()` / `FromStr`, used in the database, the REST API and serde) and a Japanese
//! label (`label_ja()`, used in the portal, notices and letters). The codes never change
//! once stored; labels may be reworded.

use std::fmt;

/// A code that is not one of an enum's stable codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("「{value}」は{what}のコードとして使用できません（使用できるコード: {known}）")]
pub struct UnknownCode {
    /// What was being parsed, in Japanese (e.g. `施設種別`).
    pub what: &'static str,
    /// The input, trimmed.
    pub value: String,
    /// The accepted codes, comma-separated.
    pub known: String,
}

impl UnknownCode {
    /// Builds the error from the accepted codes.
    pub fn new<'a>(
        what: &'static str,
        value: &str,
        known: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        Self {
            what,
            value: value.trim().to_string(),
            known: known.into_iter().collect::<Vec<_>>().join(", "),
        }
    }
}

/// Shows a character in an error message: visible characters as themselves, invisible
/// ones (controls, spaces, format characters) as `U+XXXX`.
pub(crate) fn show_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() || is_format_char(c) {
        format!("U+{:04X}", u32::from(c))
    } else {
        c.to_string()
    }
}

/// Unicode format characters that must never appear in names or codes: zero-width
/// characters and bidirectional controls (they make two different strings look alike).
pub(crate) fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// Declares a field-less enum with a stable code and a Japanese label per variant, and
/// derives `as_str`, `label_ja`, `ALL`, `FromStr` (error [`UnknownCode`]), `Display`
/// (the code) and serde (the code).
macro_rules! coded_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $what:literal {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $code:literal => $label:literal,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $code)]
                $variant,
            )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable snake_case code (database, API, serde).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The Japanese label people see.
            pub fn label_ja(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::enum_codes::UnknownCode;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim() {
                    $($code => Ok($name::$variant),)+
                    other => Err($crate::enum_codes::UnknownCode::new(
                        $what,
                        other,
                        Self::ALL.iter().map(|v| v.as_str()),
                    )),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use coded_enum;

/// Wraps `show_char` for use in `thiserror` format strings.
pub(crate) struct Shown(pub char);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&show_char(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    coded_enum! {
        /// A test enum.
        pub enum Colour: "色" {
            /// Red.
            Red = "red" => "赤",
            /// Dark blue.
            DarkBlue = "dark_blue" => "紺",
        }
    }

    #[test]
    fn codes_round_trip_and_unknown_code_is_japanese() {
        for c in Colour::ALL {
            assert_eq!(c.as_str().parse::<Colour>(), Ok(*c));
        }
        assert_eq!(Colour::DarkBlue.label_ja(), "紺");
        assert_eq!(Colour::DarkBlue.to_string(), "dark_blue");
        let err = "green".parse::<Colour>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "「green」は色のコードとして使用できません（使用できるコード: red, dark_blue）"
        );
    }

    #[test]
    fn serde_name_is_the_code() {
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};
        for c in Colour::ALL {
            let d: StrDeserializer<'_, Error> = c.as_str().into_deserializer();
            assert_eq!(Colour::deserialize(d), Ok(*c));
        }
    }

    #[test]
    fn invisible_characters_are_shown_as_code_points() {
        assert_eq!(show_char('\u{200B}'), "U+200B");
        assert_eq!(show_char('\u{7}'), "U+0007");
        assert_eq!(show_char('あ'), "あ");
        assert_eq!(Shown('\u{3000}').to_string(), "U+3000");
    }
}
