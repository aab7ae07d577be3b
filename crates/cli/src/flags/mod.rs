//! The option table and the Getopt::Long-compatible parser.
