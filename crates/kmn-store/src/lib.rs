//! kmn-store
