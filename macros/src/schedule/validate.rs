//! Checks `#[schedule]` against the function it is put on, and resolves what to generate.

use syn::ext::IdentExt;
use syn::{Ident, ItemFn, LitStr, Type, Visibility};

use super::parse::ScheduleArgs;
use crate::errors::Errors;
use crate::handler;
use crate::options::{self, RawOption};
use portico_spec::schedule_expr::parse_schedule;

/// The options `#[schedule]` accepts.
const OPTIONS: [&str; 1] = ["name"];

/// A validated schedule, ready to expand.
pub(crate) struct ScheduleSpec {
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    pub(crate) is_async: bool,
    /// The entry-point name: the `name` option or the function's name.
    pub(crate) name: LitStr,
    pub(crate) expression: LitStr,
    /// Argument types (`FromScheduleInvocation` extractors).
    pub(crate) args: Vec<Type>,
    /// The declared return type, unless it is `()` or mentions `impl Trait` (not nameable).
    pub(crate) output: Option<Type>,
}

/// Validates everything, recording every error; `None` when anything is wrong.
pub(crate) fn validate(
    args: Option<ScheduleArgs>,
    func: &ItemFn,
    errors: &mut Errors,
) -> Option<ScheduleSpec> {
    handler::check_signature(&func.sig, "schedule handler", errors);
    let args = args?;
    let expression = errors.take(validate_expression(&args.expression));
    let name = validate_options(&args.options, errors);
    let ident = &func.sig.ident;
    let name = match name {
        Some(Some(name)) => name,
        Some(None) => LitStr::new(&ident.unraw().to_string(), ident.span()),
        None => return None,
    };
    let arg_types = handler::arg_types(func)?;
    let output = handler::output_type(func);
    Some(ScheduleSpec {
        vis: func.vis.clone(),
        ident: ident.clone(),
        is_async: func.sig.asyncness.is_some(),
        name,
        expression: expression?,
        args: arg_types,
        output,
    })
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

/// `Some(name option)` when the options are valid.
fn validate_options(raw: &[RawOption], errors: &mut Errors) -> Option<Option<LitStr>> {
    let known = options::known_options(raw, &OPTIONS, "schedule", errors);
    if known.len() != raw.len() {
        return None;
    }
    let Some(option) = known.first() else {
        return Some(None);
    };
    let name = errors.take(options::str_value(option, "nightly-cleanup"))?;
    let value = name.value();
    if !handler::is_entry_point_name(&value) {
        errors.push(syn::Error::new(
            name.span(),
            format!(
                "schedule name `{value}` must be 1 to 64 letters, digits, `-` or `_` (it names \
                 the entry point and the deployed rule)"
            ),
        ));
        return None;
    }
    Some(Some(name))
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

    #[test]
    fn names() {
        let func: ItemFn = parse_quote!(
            async fn r#nightly(e: ScheduledEvent) -> Result<(), Error> {}
        );
        let mut errors = Errors::default();
        let args = super::super::parse::parse_args(quote::quote!("rate(1 day)")).unwrap();
        let spec = validate(Some(args), &func, &mut errors).unwrap();
        assert_eq!(spec.name.value(), "nightly");
        assert!(spec.output.is_some());
        assert_eq!(spec.args.len(), 1);

        let args =
            super::super::parse::parse_args(quote::quote!("rate(1 day)", name = "a.b")).unwrap();
        assert!(validate(Some(args), &func, &mut errors).is_none());
        assert!(errors.messages()[0].contains("schedule name `a.b` must be"));
    }
}
