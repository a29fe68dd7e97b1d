//! kmn-web
