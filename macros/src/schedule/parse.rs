//! The syntax of `#[schedule]`'s arguments: `"expression", key = value, ...`.

use proc_macro2::{Span, TokenStream};
use syn::LitStr;
use syn::parse::{ParseStream, Parser};

use crate::options::{RawOption, parse_options};

/// The arguments as written.
pub(crate) struct ScheduleArgs {
    pub(crate) expression: LitStr,
    pub(crate) options: Vec<RawOption>,
}

const EXAMPLE: &str = "`#[schedule(\"rate(5 minutes)\")]` or `#[schedule(\"cron(0 12 * * ? *)\")]`";

/// Parses the arguments of `#[schedule]`.
pub(crate) fn parse_args(attr: TokenStream) -> syn::Result<ScheduleArgs> {
    let parser = |input: ParseStream<'_>| {
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                format!("`#[schedule]` needs a schedule expression: {EXAMPLE}"),
            ));
        }
        if !input.peek(LitStr) {
            return Err(input.error(format!(
                "expected the schedule expression as a string literal: {EXAMPLE}"
            )));
        }
        let expression = input.parse()?;
        let options = parse_options(input)?;
        Ok(ScheduleArgs {
            expression,
            options,
        })
    };
    parser.parse2(attr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn arguments() {
        let args = parse_args(quote!("rate(1 day)", name = "daily")).unwrap();
        assert_eq!(args.expression.value(), "rate(1 day)");
        assert_eq!(args.options.len(), 1);
        let err = parse_args(quote!()).err().unwrap().to_string();
        assert!(err.contains("needs a schedule expression"), "{err}");
        let err = parse_args(quote!(rate(5 minutes)))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("as a string literal"), "{err}");
    }
}
