//! `key = value` options, shared by the attributes: parsing, name checks and literal values.

use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitBool, LitStr, Token};

use crate::errors::Errors;

/// One `key = value` option as written; the value is checked by the attribute's validator.
pub(crate) struct RawOption {
    pub(crate) name: Ident,
    pub(crate) value: Expr,
}

impl Parse for RawOption {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name = Ident::parse_any(input).map_err(|e| {
            syn::Error::new(e.span(), "expected an option such as `name = \"...\"`")
        })?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                name.span(),
                format!("expected `{name} = value`"),
            ));
        }
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Self { name, value })
    }
}

/// Parses `, key = value, ...` up to the end of the input; a trailing comma is fine.
pub(crate) fn parse_options(input: ParseStream<'_>) -> syn::Result<Vec<RawOption>> {
    let mut options = Vec::new();
    while !input.is_empty() {
        input.parse::<Token![,]>()?;
        if input.is_empty() {
            break;
        }
        options.push(input.parse()?);
    }
    Ok(options)
}

/// Reports unknown and repeated options; returns the others in order.
pub(crate) fn known_options<'a>(
    options: &'a [RawOption],
    known: &[&str],
    attribute: &str,
    errors: &mut Errors,
) -> Vec<&'a RawOption> {
    let mut out: Vec<&RawOption> = Vec::new();
    for option in options {
        let name = option.name.to_string();
        if !known.contains(&name.as_str()) {
            let list = known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let hint = closest(&name, known)
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            errors.push(syn::Error::new(
                option.name.span(),
                format!(
                    "unknown option `{name}` for `#[{attribute}]`; {hint}known options: {list}"
                ),
            ));
        } else if out.iter().any(|o| o.name == option.name) {
            errors.push(syn::Error::new(
                option.name.span(),
                format!("option `{name}` is given twice; remove one"),
            ));
        } else {
            out.push(option);
        }
    }
    out
}

/// The known name closest to `name`, if it is close enough to be a typo.
fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2 || k.starts_with(name) || name.starts_with(k))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// `expr` without the invisible groups `macro_rules!` wraps around substituted fragments.
fn ungroup(mut expr: &Expr) -> &Expr {
    while let Expr::Group(group) = expr {
        expr = &group.expr;
    }
    expr
}

/// A literal option value.
pub(crate) fn lit(expr: &Expr) -> Option<&Lit> {
    match ungroup(expr) {
        Expr::Lit(lit) => Some(&lit.lit),
        _ => None,
    }
}

/// The value of a `true` / `false` option.
pub(crate) fn bool_value(option: &RawOption) -> syn::Result<LitBool> {
    match lit(&option.value) {
        Some(Lit::Bool(b)) => Ok(b.clone()),
        _ => Err(syn::Error::new(
            option.value.span(),
            format!("`{}` takes `true` or `false`", option.name),
        )),
    }
}

/// The value of a string option.
pub(crate) fn str_value(option: &RawOption, example: &str) -> syn::Result<LitStr> {
    match lit(&option.value) {
        Some(Lit::Str(s)) => Ok(s.clone()),
        _ => Err(syn::Error::new(
            option.value.span(),
            format!(
                "`{}` takes a string literal, e.g. `{} = \"{example}\"`",
                option.name, option.name
            ),
        )),
    }
}

/// The value of a whole-number option, which must lie in `range`.
pub(crate) fn u32_value(
    option: &RawOption,
    range: std::ops::RangeInclusive<u32>,
) -> syn::Result<u32> {
    let error = |message: String| Err(syn::Error::new(option.value.span(), message));
    let Some(Lit::Int(int)) = lit(&option.value) else {
        return error(format!(
            "`{}` takes a whole number from {} to {}",
            option.name,
            range.start(),
            range.end()
        ));
    };
    match int.base10_parse::<u32>() {
        Ok(value) if range.contains(&value) => Ok(value),
        _ => error(format!(
            "`{} = {}` is out of range: AWS takes {} to {}",
            option.name,
            int.base10_digits(),
            range.start(),
            range.end()
        )),
    }
}

/// The value of a `["a", "b"]` option.
pub(crate) fn str_array_value(option: &RawOption, example: &str) -> syn::Result<Vec<LitStr>> {
    let error = |span| {
        syn::Error::new(
            span,
            format!(
                "`{}` takes an array of string literals, e.g. `{} = [\"{example}\"]`",
                option.name, option.name
            ),
        )
    };
    let Expr::Array(array) = ungroup(&option.value) else {
        return Err(error(option.value.span()));
    };
    array
        .elems
        .iter()
        .map(|elem| match lit(elem) {
            Some(Lit::Str(s)) => Ok(s.clone()),
            _ => Err(error(elem.span())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typo_suggestions() {
        let known = ["api_key_required", "content_types", "cors", "name"];
        assert_eq!(closest("api_key", &known), Some("api_key_required"));
        assert_eq!(closest("content_type", &known), Some("content_types"));
        assert_eq!(closest("core", &known), Some("cors"));
        assert_eq!(closest("timeout", &known), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
