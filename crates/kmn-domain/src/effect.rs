//! After-commit effects: what a use case's committed transaction asks to happen next,
//! stated as values in the transaction and carried out once it has committed (never
//! inside it, and never when it rolled back).

/// One after-commit effect.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Publish a new CRL of this issuing CA at once (第16条): the transaction revoked one
    /// of its certificates. A failure to publish never undoes the revocation; `kmn serve`
    /// (or `kmn crl publish`) publishes it then.
    PublishCrl {
        /// The issuing CA's record name.
        ca_name: String,
    },
}
