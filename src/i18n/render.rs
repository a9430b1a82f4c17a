//! Fluent bundles, built once, and the one render function.

use std::collections::HashMap;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

use super::{Arg, FTL_FILES, Msg};
use crate::domain::Locale;

type Bundle = FluentBundle<FluentResource>;

fn bundles() -> &'static HashMap<Locale, Bundle> {
    static BUNDLES: OnceLock<HashMap<Locale, Bundle>> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        let mut map = HashMap::new();
        for locale in Locale::ALL {
            let lang: unic_langid::LanguageIdentifier = locale.code().parse().unwrap_or_default();
            let mut bundle = FluentBundle::new_concurrent(vec![lang]);
            // Plain text everywhere: no Unicode isolation marks around placeables.
            bundle.set_use_isolating(false);
            for (code, path, source) in FTL_FILES {
                if *code != locale.code() {
                    continue;
                }
                let resource = match FluentResource::try_new(source.to_string()) {
                    Ok(r) => r,
                    Err((r, errors)) => {
                        tracing::error!(path, ?errors, "syntax errors in locale file");
                        r
                    }
                };
                if let Err(errors) = bundle.add_resource(resource) {
                    tracing::error!(path, ?errors, "duplicate messages in locale file");
                }
            }
            map.insert(locale, bundle);
        }
        map
    })
}

/// Renders `msg` in `locale`. A message missing from the locale renders as its id (the locale
/// test makes sure that never ships).
pub fn render(locale: Locale, msg: &Msg) -> String {
    let Some(bundle) = bundles().get(&locale) else {
        return msg.key.id.to_string();
    };
    let Some(pattern) = bundle.get_message(msg.key.id).and_then(|m| m.value()) else {
        return msg.key.id.to_string();
    };
    let mut args = FluentArgs::new();
    for (name, value) in &msg.args {
        match value {
            Arg::Text(s) => args.set(*name, FluentValue::from(s.as_str())),
            Arg::Num(n) => args.set(*name, FluentValue::from(*n)),
        }
    }
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
    if !errors.is_empty() {
        tracing::warn!(key = msg.key.id, ?errors, "message rendered with errors");
    }
    text.into_owned()
}

/// Renders several messages as paragraphs separated by a blank line.
pub fn render_all(locale: Locale, msgs: &[Msg]) -> String {
    msgs.iter()
        .map(|m| render(locale, m))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};

    use fluent_syntax::ast;

    use super::*;
    use crate::i18n::ALL_KEYS;

    fn collect_vars(pattern: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
        for element in &pattern.elements {
            if let ast::PatternElement::Placeable { expression } = element {
                collect_expr(expression, out);
            }
        }
    }

    fn collect_expr(expr: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
        match expr {
            ast::Expression::Select { selector, variants } => {
                collect_inline(selector, out);
                for v in variants {
                    collect_vars(&v.value, out);
                }
            }
            ast::Expression::Inline(inline) => collect_inline(inline, out),
        }
    }

    fn collect_inline(inline: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>) {
        match inline {
            ast::InlineExpression::VariableReference { id } => {
                out.insert(id.name.to_string());
            }
            ast::InlineExpression::FunctionReference { arguments, .. } => {
                for p in &arguments.positional {
                    collect_inline(p, out);
                }
                for n in &arguments.named {
                    collect_inline(&n.value, out);
                }
            }
            ast::InlineExpression::Placeable { expression } => collect_expr(expression, out),
            _ => {}
        }
    }

    /// Message id -> the variables it uses, for one locale.
    fn messages(locale: Locale) -> HashMap<String, BTreeSet<String>> {
        let mut map = HashMap::new();
        for (code, path, source) in FTL_FILES {
            if *code != locale.code() {
                continue;
            }
            let resource = match fluent_syntax::parser::parse(*source) {
                Ok(r) => r,
                Err((_, errors)) => panic!("{path}: syntax errors: {errors:?}"),
            };
            for entry in resource.body {
                if let ast::Entry::Message(m) = entry {
                    let mut vars = BTreeSet::new();
                    if let Some(value) = &m.value {
                        collect_vars(value, &mut vars);
                    }
                    let id = m.id.name.to_string();
                    assert!(
                        map.insert(id.clone(), vars).is_none(),
                        "{path}: duplicate {id}"
                    );
                }
            }
        }
        map
    }

    #[test]
    fn every_key_exists_in_every_locale_with_only_passed_variables() {
        let mut ids = HashSet::new();
        for key in ALL_KEYS.iter().flat_map(|k| k.iter()) {
            assert!(ids.insert(key.id), "key {} declared twice", key.id);
        }
        for locale in Locale::ALL {
            let msgs = messages(locale);
            for key in ALL_KEYS.iter().flat_map(|k| k.iter()) {
                let vars = msgs
                    .get(key.id)
                    .unwrap_or_else(|| panic!("{} is missing from locale {locale}", key.id));
                for v in vars {
                    assert!(
                        key.vars.contains(&v.as_str()),
                        "{locale}:{} uses ${v}, which the code does not pass",
                        key.id
                    );
                }
            }
            for id in msgs.keys() {
                assert!(
                    ids.contains(id.as_str()),
                    "{locale}: message {id} is not used by the code"
                );
            }
        }
    }

    #[test]
    fn every_key_renders_without_errors_in_every_locale() {
        for locale in Locale::ALL {
            let bundle = &bundles()[&locale];
            for key in ALL_KEYS.iter().flat_map(|k| k.iter()) {
                let mut args = FluentArgs::new();
                for v in key.vars {
                    args.set(*v, FluentValue::from(3));
                }
                let pattern = bundle
                    .get_message(key.id)
                    .and_then(|m| m.value())
                    .unwrap_or_else(|| panic!("{locale}:{} has no value", key.id));
                let mut errors = Vec::new();
                let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
                assert!(errors.is_empty(), "{locale}:{}: {errors:?}", key.id);
                assert!(!text.trim().is_empty(), "{locale}:{} is empty", key.id);
            }
        }
    }
}
