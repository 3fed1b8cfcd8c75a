//! The one parser for route path templates, in API Gateway's syntax.
//!
//! Used by the macro crate (compile time), the runtime's router and the local gateway, so the
//! path a macro accepts at compile time is exactly the path the router accepts at run time.
//! It depends on nothing but `std`.
//!
//! Syntax (API Gateway REST resources):
//! - a template starts with `/`; the root is exactly `/`;
//! - no empty segments and no trailing slash;
//! - a parameter is a whole segment, `{name}`, with `name` matching `[A-Za-z_][A-Za-z0-9_]*`;
//! - a greedy parameter `{name+}` matches the rest of the path and is only allowed last;
//! - a parameter name appears at most once;
//! - literal segments use only `A-Z a-z 0-9 - . _ ~ : @ ! $ & ' ( ) * + , ; = %`.

/// A parsed route path template, such as `/users/{id}` or `/files/{path+}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePath {
    /// The segments between slashes; empty for the root path `/`.
    pub segments: Vec<Segment>,
}

/// One segment of a [`RoutePath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text matched exactly, e.g. `users`.
    Literal(String),
    /// A parameter matching one segment, `{id}`; holds the name.
    Param(String),
    /// A parameter matching the rest of the path, `{path+}`; holds the name.
    Greedy(String),
}

input_error!(
    /// Why a template is not a valid route path.
    PathError,
    "template"
);

/// Characters allowed in a literal segment besides ASCII letters and digits.
const LITERAL_PUNCTUATION: &str = "-._~:@!$&'()*+,;=%";

/// Parses a route path template.
///
/// # Errors
/// A [`PathError`] with a specific message and the byte range of the offending part.
pub fn parse_route_path(template: &str) -> Result<RoutePath, PathError> {
    let Some(rest) = template.strip_prefix('/') else {
        let message = if template.is_empty() {
            "a route path cannot be empty; the root path is `/`".to_owned()
        } else {
            format!("a route path must start with `/`; write `/{template}`")
        };
        let first_len = template.chars().next().map_or(0, char::len_utf8);
        return Err(PathError::new(message, 0, first_len));
    };
    if rest.is_empty() {
        return Ok(RoutePath {
            segments: Vec::new(),
        });
    }

    let mut segments: Vec<Segment> = Vec::new();
    // The parameter names so far, to report duplicates.
    let mut seen: Vec<String> = Vec::new();
    let mut offset = 1;
    let mut parts = rest.split('/').peekable();
    while let Some(part) = parts.next() {
        let is_last = parts.peek().is_none();
        if part.is_empty() {
            return Err(if is_last {
                PathError::new(
                    "a route path cannot end with `/`; remove the trailing slash \
                     (only the root path is `/`)",
                    offset - 1,
                    1,
                )
            } else {
                PathError::new(
                    "empty path segment (`//`); remove the extra `/`",
                    offset - 1,
                    2,
                )
            });
        }
        let segment = parse_segment(part, offset)?;
        match &segment {
            Segment::Literal(_) => {}
            Segment::Param(name) | Segment::Greedy(name) => {
                if seen.iter().any(|n| n == name) {
                    return Err(PathError::new(
                        format!("parameter `{name}` appears twice; rename one of them"),
                        offset,
                        part.len(),
                    ));
                }
                seen.push(name.clone());
                if matches!(segment, Segment::Greedy(_)) && !is_last {
                    return Err(PathError::new(
                        format!(
                            "a greedy parameter `{{{name}+}}` must be the last segment; \
                             it matches the rest of the path"
                        ),
                        offset,
                        part.len(),
                    ));
                }
            }
        }
        segments.push(segment);
        offset += part.len() + 1;
    }
    Ok(RoutePath { segments })
}

/// Parses one non-empty segment found at byte `offset` of the template.
fn parse_segment(part: &str, offset: usize) -> Result<Segment, PathError> {
    if let Some(inner) = part.strip_prefix('{') {
        let Some(inner) = inner.strip_suffix('}') else {
            return Err(match inner.find(['{', '}']) {
                Some(i) if inner.as_bytes()[i] == b'}' => PathError::new(
                    format!(
                        "a parameter must be a whole segment; `{part}` has text after `}}`; \
                         put it in its own segment"
                    ),
                    offset,
                    part.len(),
                ),
                _ => PathError::new(
                    format!("unclosed `{{` in `{part}`; a parameter is written `{{name}}`"),
                    offset,
                    part.len(),
                ),
            });
        };
        let (name, greedy) = match inner.strip_suffix('+') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        validate_param_name(name, part, offset)?;
        return Ok(if greedy {
            Segment::Greedy(name.to_owned())
        } else {
            Segment::Param(name.to_owned())
        });
    }

    for (i, c) in part.char_indices() {
        if c.is_ascii_alphanumeric() || LITERAL_PUNCTUATION.contains(c) {
            continue;
        }
        let at = offset + i;
        let len = c.len_utf8();
        let message = match c {
            '{' | '}' => format!(
                "a parameter must be a whole segment: `{part}` mixes text and `{c}`; \
                 write `/{{name}}` as its own segment"
            ),
            '?' => "`?` is not allowed in a route path; query strings are not part of a route \
                    (use the `Query` extractor)"
                .to_owned(),
            '#' => "`#` is not allowed in a route path; fragments are never sent to the server"
                .to_owned(),
            ' ' => "spaces are not allowed in a route path; use `-` or `_`, or `%20`".to_owned(),
            _ => format!(
                "character `{}` is not allowed in a route path segment; use letters, digits \
                 or one of `{LITERAL_PUNCTUATION}`",
                c.escape_debug()
            ),
        };
        return Err(PathError::new(message, at, len));
    }
    Ok(Segment::Literal(part.to_owned()))
}

fn validate_param_name(name: &str, part: &str, offset: usize) -> Result<(), PathError> {
    let name_offset = offset + 1;
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(PathError::new(
            format!("parameter `{part}` has no name; write e.g. `{{id}}`"),
            offset,
            part.len(),
        ));
    };
    let valid = (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(PathError::new(
            format!(
                "invalid parameter name `{name}`; a name starts with a letter or `_` and \
                 continues with letters, digits or `_`"
            ),
            name_offset,
            name.len(),
        ))
    }
}

impl RoutePath {
    /// The parameter names in order, greedy ones included.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Literal(_) => None,
            Segment::Param(name) | Segment::Greedy(name) => Some(name.as_str()),
        })
    }

    /// The template in `matchit` 0.9 syntax: `/users/{id}`, `/files/{*path}`, root `/`.
    pub fn to_matchit(&self) -> String {
        let written = write_path(&self.segments, |out, name, greedy| {
            out.push_str(if greedy { "{*" } else { "{" });
            out.push_str(name);
            out.push('}');
            Ok::<(), std::convert::Infallible>(())
        });
        written.unwrap_or_else(|never| match never {})
    }
}

/// Writes the path of `segments`: each one after a `/`, literals as they are and parameters as
/// `param` writes them (given the name, and whether the parameter is greedy); the root is `/`.
///
/// # Errors
/// The first error of `param`.
pub fn write_path<E>(
    segments: &[Segment],
    mut param: impl FnMut(&mut String, &str, bool) -> Result<(), E>,
) -> Result<String, E> {
    if segments.is_empty() {
        return Ok("/".to_owned());
    }
    let mut out = String::new();
    for segment in segments {
        out.push('/');
        match segment {
            Segment::Literal(text) => out.push_str(text),
            Segment::Param(name) => param(&mut out, name, false)?,
            Segment::Greedy(name) => param(&mut out, name, true)?,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Segment {
        Segment::Literal(s.to_owned())
    }
    fn param(s: &str) -> Segment {
        Segment::Param(s.to_owned())
    }
    fn greedy(s: &str) -> Segment {
        Segment::Greedy(s.to_owned())
    }

    /// The error for `template`, with the offending part cut out of it.
    fn err(template: &str) -> (String, &str) {
        let e = parse_route_path(template).expect_err(template);
        (e.message, &template[e.offset..e.offset + e.len])
    }

    #[test]
    fn root() {
        let p = parse_route_path("/").unwrap();
        assert!(p.segments.is_empty());
        assert_eq!(p.params().count(), 0);
        assert_eq!(p.to_matchit(), "/");
    }

    #[test]
    fn literals_and_params() {
        let p = parse_route_path("/users/{id}/posts/{post_id}").unwrap();
        assert_eq!(
            p.segments,
            vec![lit("users"), param("id"), lit("posts"), param("post_id")]
        );
        assert_eq!(p.params().collect::<Vec<_>>(), ["id", "post_id"]);
        assert_eq!(p.to_matchit(), "/users/{id}/posts/{post_id}");
    }

    #[test]
    fn greedy_last() {
        let p = parse_route_path("/files/{path+}").unwrap();
        assert_eq!(p.segments, vec![lit("files"), greedy("path")]);
        assert_eq!(p.params().collect::<Vec<_>>(), ["path"]);
        assert_eq!(p.to_matchit(), "/files/{*path}");
        let p = parse_route_path("/{proxy+}").unwrap();
        assert_eq!(p.to_matchit(), "/{*proxy}");
    }

    #[test]
    fn allowed_literal_characters() {
        let t = "/a-b.c_d~e:f@g!h$i&j'k(l)m*n+o,p;q=r%20s/V2";
        let p = parse_route_path(t).unwrap();
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.to_matchit(), t);
        assert!(parse_route_path("/_underscore/{_x1}").is_ok());
    }

    #[test]
    fn errors() {
        // One case a line.
        #[rustfmt::skip]
        let cases = [
            ("users", "must start with `/`", "u"),
            ("users", "`/users`", "u"),
            ("", "cannot be empty", ""),
            ("/users/", "trailing slash", "/"),
            ("/users//x", "empty path segment", "//"),
            ("//", "empty path segment", "//"),
            ("/a/{id}/b/{id}", "parameter `id` appears twice", "{id}"),
            ("/a/{id}/{id+}", "parameter `id` appears twice", "{id+}"),
            ("/files/{rest+}/meta", "a greedy parameter `{rest+}`", "{rest+}"),
            ("/files/{rest+}/meta", "must be the last segment", "{rest+}"),
            // Parameters are whole segments.
            ("/users/id{id}", "whole segment", "{"),
            ("/users/{id}.json", "whole segment", "{id}.json"),
            ("/users/{id", "unclosed `{`", "{id"),
            ("/users/id}", "whole segment", "}"),
            ("/users/{{id}}", "invalid parameter name `{id}`", "{id}"),
            // Parameter names.
            ("/x/{}", "has no name", "{}"),
            ("/x/{+}", "has no name", "{+}"),
            ("/x/{1id}", "invalid parameter name `1id`", "1id"),
            ("/x/{user-id}", "invalid parameter name `user-id`", "user-id"),
            ("/x/{a++}", "invalid parameter name `a+`", "a+"),
            ("/x/{ id }", "invalid parameter name ` id `", " id "),
            // Characters outside a path.
            ("/search?q=1", "query strings", "?"),
            ("/page#top", "fragments", "#"),
            ("/hello world", "spaces are not allowed", " "),
            ("/caf\u{e9}", "character `\u{e9}` is not allowed", "\u{e9}"),
            ("/a\\b", "character `\\\\`", "\\"),
            ("/a\"b", "character `\\\"` is not allowed", "\""),
            ("/a<b>", "character `<`", "<"),
        ];
        crate::test_support::assert_errors(err, &cases);
        // The part is the offending occurrence, not an earlier one that reads the same.
        assert_eq!(parse_route_path("/users/").unwrap_err().offset, 6);
        assert_eq!(parse_route_path("/a/{id}/b/{id}").unwrap_err().offset, 10);
    }

    #[test]
    fn error_displays_message() {
        let e = parse_route_path("/a/").unwrap_err();
        assert_eq!(e.to_string(), e.message);
    }
}
