//! The syntax of `#[function]`'s arguments: nothing, or `key = value, ...`.

use proc_macro2::TokenStream;
use syn::Token;
use syn::parse::Parser;
use syn::punctuated::Punctuated;

use crate::options::RawOption;

/// Parses the arguments of `#[function]`: the options as written.
pub(crate) fn parse_args(attr: TokenStream) -> syn::Result<Vec<RawOption>> {
    let parser = Punctuated::<RawOption, Token![,]>::parse_terminated;
    parser
        .parse2(attr)
        .map(|options| options.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn arguments() {
        assert!(parse_args(quote!()).unwrap().is_empty());
        let options = parse_args(quote!(name = "notify",)).unwrap();
        assert_eq!(options.len(), 1);
        assert_eq!(options[0].name, "name");
        let err = parse_args(quote!("notify")).err().unwrap().to_string();
        assert!(err.contains("expected an option"), "{err}");
    }
}
