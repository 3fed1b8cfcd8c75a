//! `#[schedule("rate(5 minutes)")]` / `#[schedule("cron(0 12 * * ? *)", name = "...")]`: an
//! [`EntryKind`] whose own part is the expression, checked by the parser the local scheduler
//! uses.

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

use crate::entry::{EntryKind, KindArgs, KindPaths, Positional};
use crate::errors::Errors;
use crate::paths;
use portico_spec::schedule_expr::parse_schedule;

/// `#[schedule]`.
pub(crate) const SCHEDULE: EntryKind = EntryKind {
    attribute: "schedule",
    what: "schedule handler",
    noun: "schedule",
    name_names: "the deployed rule",
    name_example: "nightly-cleanup",
    positional: Some(Positional {
        what: "schedule expression",
        example: "`#[schedule(\"rate(5 minutes)\")]` or `#[schedule(\"cron(0 12 * * ? *)\")]`",
    }),
    options: &["name"],
    require_async: false,
    paths: KindPaths {
        def: paths::schedule_def,
        descriptor: paths::schedule,
        method: "schedule",
        invocation: paths::schedule_invocation,
        assert_from: paths::assert_from_schedule,
        extract: paths::extract_schedule,
        assert_into: paths::assert_into_schedule_result,
        into: paths::into_schedule_result,
    },
    validate: validate_schedule,
};

/// The descriptor's `expression` field.
fn validate_schedule(args: &KindArgs<'_>, errors: &mut Errors) -> Option<TokenStream> {
    let expression = errors.take(validate_expression(args.positional?))?;
    Some(quote!(expression: #expression,))
}

fn validate_expression(expression: &LitStr) -> syn::Result<LitStr> {
    let text = expression.value();
    // The span is the whole literal (sub-spans are unstable), so the message quotes the
    // expression and names the culprit.
    parse_schedule(&text)
        .map(|_| expression.clone())
        .map_err(|e| {
            syn::Error::new(
                expression.span(),
                format!("invalid schedule expression `{text}`: {}", e.message),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn message(expression: &str) -> String {
        validate_expression(&LitStr::new(expression, proc_macro2::Span::call_site()))
            .err()
            .unwrap()
            .to_string()
    }

    #[test]
    fn expression_errors_quote_the_expression() {
        assert_eq!(
            message("rate(5 minute)"),
            "invalid schedule expression `rate(5 minute)`: a rate of 5 needs the plural unit \
             `minutes`, not `minute`: write `rate(5 minutes)`"
        );
        assert!(message("cron(0 0 ? * 2W *)").contains(": `W` is not allowed"));
        assert!(validate_expression(&parse_quote!("cron(0 12 * * ? *)")).is_ok());
    }
}
