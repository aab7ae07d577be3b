//! The value an option received.

/// The value stored for one canonical option name.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A [`Kind::Switch`](super::Kind::Switch) or [`Kind::Bool`](super::Kind::Bool)
    /// option: `true` for `--X`, `false` for `--noX`.
    Bool(bool),
    /// A string option.
    Str(String),
    /// An integer option; `text` is the number as Perl would print it (`010` gives `10`).
    Int { value: i64, text: String },
    /// A real-number option; `text` is the value as given, minus `_` separators.
    Float { value: f64, text: String },
    /// A repeatable option, in command line order.
    List(Vec<String>),
    /// A repeatable `key=value` option, in first-seen key order; a repeated key
    /// keeps its last value (Perl hash semantics).
    Hash(Vec<(String, String)>),
}
