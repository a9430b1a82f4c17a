//! Every user-facing string comes from the Fluent files in `locales/<code>/*.ftl`, embedded at
//! build time. Code names a message through a [`Key`] (declared with [`define_keys!`] next to
//! the feature that uses it), builds a [`Msg`] with its arguments and renders it once, at the
//! edge, in the reader's language. A test checks that every key exists in every locale, that no
//! locale has messages the code never uses, and that each message only uses variables the code
//! passes.

mod keys;
mod render;

pub use keys::{Arg, Key, Msg};
pub use render::{render, render_all};

pub use keys::ALL_KEYS;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/locales.rs"));
}
pub(crate) use embedded::FTL_FILES;

/// Declares message keys for a feature: `define_keys! { WELCOME = "welcome" [name, unit]; }`
/// makes `pub const WELCOME: Key` and a `pub const ALL: &[&Key]` listing them, which
/// `i18n::keys::ALL_KEYS` must include.
#[macro_export]
macro_rules! define_keys {
    ($($name:ident = $id:literal [$($var:ident),*];)*) => {
        $(
            #[allow(missing_docs)]
            pub const $name: $crate::i18n::Key = $crate::i18n::Key {
                id: $id,
                vars: &[$(stringify!($var)),*],
            };
        )*
        /// Every key this module declares.
        pub const ALL: &[&$crate::i18n::Key] = &[$(&$name),*];
    };
}
