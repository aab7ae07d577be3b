//! automap
