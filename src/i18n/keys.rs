//! Message keys and the values that carry them to the renderer.

/// A message id and the variables its messages may use.
#[derive(Debug, PartialEq, Eq)]
pub struct Key {
    /// The Fluent message id.
    pub id: &'static str,
    /// The variables the code passes.
    pub vars: &'static [&'static str],
}

/// A Fluent argument value.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// Text, inserted as is.
    Text(String),
    /// A number, formatted by Fluent (plural rules apply).
    Num(f64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}
impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}
impl From<crate::domain::UnitCode> for Arg {
    fn from(code: crate::domain::UnitCode) -> Arg {
        Arg::Text(code.into())
    }
}
impl From<&crate::domain::UnitCode> for Arg {
    fn from(code: &crate::domain::UnitCode) -> Arg {
        Arg::Text(code.to_string())
    }
}
impl From<i64> for Arg {
    fn from(n: i64) -> Arg {
        Arg::Num(n as f64)
    }
}
impl From<usize> for Arg {
    fn from(n: usize) -> Arg {
        Arg::Num(n as f64)
    }
}
impl From<f64> for Arg {
    fn from(n: f64) -> Arg {
        Arg::Num(n)
    }
}

/// A message to render later, in the reader's language.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    /// Which message.
    pub key: &'static Key,
    /// Its arguments.
    pub args: Vec<(&'static str, Arg)>,
}

impl Msg {
    /// A message without arguments (yet).
    pub fn new(key: &'static Key) -> Msg {
        Msg {
            key,
            args: Vec::new(),
        }
    }

    /// Adds an argument. Passing a variable the key does not declare is a programming error,
    /// caught by the tests (debug builds panic).
    pub fn arg(mut self, name: &'static str, value: impl Into<Arg>) -> Msg {
        debug_assert!(
            self.key.vars.contains(&name),
            "message {} does not declare variable {name}",
            self.key.id
        );
        self.args.push((name, value.into()));
        self
    }
}

impl From<&'static Key> for Msg {
    fn from(key: &'static Key) -> Msg {
        Msg::new(key)
    }
}

/// Every key of every feature. A feature that declares keys with `define_keys!` adds its
/// `ALL` here.
pub static ALL_KEYS: &[&[&Key]] = &[
    crate::conversation::link::keys::ALL,
    crate::conversation::keys::ALL,
    crate::broadcast::keys::ALL,
    crate::coverage::keys::ALL,
];
