//! kmn-app
