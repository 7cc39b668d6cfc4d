//! Credentials: the bearer token, the cookie that opening `/?token=...`
//! sets (a browser's `EventSource` cannot send headers), and the same-origin
//! rule for state-changing requests that rely on the cookie.

use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, COOKIE, HOST, LOCATION, SET_COOKIE};
use hyper::{Method, Response, StatusCode};
use subtle::ConstantTimeEq;

use crate::body::Body;
use crate::error::ApiError;

/// How a request proved itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer` with the token: no browser sends it on its own,
    /// so no origin check is needed.
    Bearer,
    /// The cookie: a browser attaches it to requests other pages trigger too.
    Cookie,
    /// `--no-auth`: nothing was checked, so origins are.
    Open,
}

/// The server's token and cookie name; `token` is `None` with `--no-auth`.
#[derive(Clone, Debug)]
pub struct Auth {
    token: Option<String>,
    cookie_name: String,
}

impl Auth {
    /// Credentials for a server on `port`. The cookie name carries the port:
    /// cookies ignore ports, and two servers on one host must not overwrite
    /// each other's.
    pub fn new(token: Option<String>, port: u16) -> Self {
        Auth {
            token,
            cookie_name: format!("tidings_token_{port}"),
        }
    }

    fn matches(&self, candidate: &str) -> bool {
        match &self.token {
            Some(token) => bool::from(token.as_bytes().ct_eq(candidate.as_bytes())),
            None => true,
        }
    }

    /// Checks a request to a protected route, including the origin rule.
    pub fn check(&self, method: &Method, headers: &HeaderMap) -> Result<Credential, ApiError> {
        let credential = self.credential(headers)?;
        let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if credential != Credential::Bearer && !safe {
            same_origin(headers)?;
        }
        Ok(credential)
    }

    fn credential(&self, headers: &HeaderMap) -> Result<Credential, ApiError> {
        if self.token.is_none() {
            return Ok(Credential::Open);
        }
        if let Some(value) = headers.get(AUTHORIZATION) {
            let text = value.to_str().map_err(|_| ApiError::Unauthorized)?;
            let token = text
                .strip_prefix("Bearer ")
                .or_else(|| text.strip_prefix("bearer "))
                .ok_or(ApiError::Unauthorized)?;
            return if self.matches(token.trim()) {
                Ok(Credential::Bearer)
            } else {
                Err(ApiError::Unauthorized)
            };
        }
        let from_cookie = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == self.cookie_name && self.matches(value));
        if from_cookie {
            Ok(Credential::Cookie)
        } else {
            Err(ApiError::Unauthorized)
        }
    }

    /// `GET /anything?token=...`: a valid token sets the cookie and redirects
    /// to the same URL without the token (so it leaves the address bar and
    /// the history); a wrong one is refused. `None` when the query holds no
    /// token.
    pub fn token_redirect(&self, path: &str, query: Option<&str>) -> Option<Response<Body>> {
        let query = query?;
        let mut token = None;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("token", value)) => token = Some(value),
                _ => rest.push(pair),
            }
        }
        let token = percent_encoding::percent_decode_str(token?).decode_utf8_lossy();
        if !self.matches(&token) {
            return Some(ApiError::Unauthorized.into_response());
        }
        let mut location = path.to_owned();
        if !rest.is_empty() {
            location.push('?');
            location.push_str(&rest.join("&"));
        }
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SEE_OTHER;
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&location) {
            headers.insert(LOCATION, value);
        }
        if let Some(value) = self.token.as_ref().and_then(|t| {
            HeaderValue::from_str(&format!(
                "{}={t}; HttpOnly; SameSite=Strict; Path=/",
                self.cookie_name
            ))
            .ok()
        }) {
            headers.insert(SET_COOKIE, value);
        }
        Some(response)
    }
}

/// Refuses a request a browser sent on behalf of another origin.
///
/// `Sec-Fetch-Site` (sent by every current browser) must be `same-origin` or
/// `none` (typed by the user). Without it, `Origin`, when present, must be
/// this server (`http://` + `Host`). Requests with neither come from
/// programs, not from pages, and pass.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => Ok(()),
            _ => Err(ApiError::Forbidden(
                "cross-origin request refused (Sec-Fetch-Site)".into(),
            )),
        };
    }
    let Some(origin) = headers.get("origin") else {
        return Ok(());
    };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let expected = host.map(|h| format!("http://{h}"));
    match (origin.to_str().ok(), expected) {
        (Some(o), Some(e)) if o.eq_ignore_ascii_case(&e) => Ok(()),
        _ => Err(ApiError::Forbidden(
            "cross-origin request refused (Origin)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("a header value"));
        }
        h
    }

    #[test]
    fn bearer_and_cookie_are_accepted_and_wrong_ones_refused() {
        let auth = Auth::new(Some("s3cret".into()), 7171);
        let get = Method::GET;
        assert_eq!(
            auth.check(&get, &headers(&[("authorization", "Bearer s3cret")]))
                .ok(),
            Some(Credential::Bearer)
        );
        assert!(auth
            .check(&get, &headers(&[("authorization", "Bearer nope")]))
            .is_err());
        assert!(auth.check(&get, &headers(&[])).is_err());
        assert_eq!(
            auth.check(
                &get,
                &headers(&[("cookie", "a=b; tidings_token_7171=s3cret")])
            )
            .ok(),
            Some(Credential::Cookie)
        );
        assert!(auth
            .check(&get, &headers(&[("cookie", "tidings_token_7172=s3cret")]))
            .is_err());
    }

    #[test]
    fn cookie_posts_must_be_same_origin() {
        let auth = Auth::new(Some("t".into()), 1);
        let post = Method::POST;
        let cookie = ("cookie", "tidings_token_1=t");
        let host = ("host", "127.0.0.1:1");
        assert!(auth
            .check(
                &post,
                &headers(&[cookie, host, ("origin", "http://127.0.0.1:1")])
            )
            .is_ok());
        assert!(auth
            .check(
                &post,
                &headers(&[cookie, host, ("origin", "http://evil.example")])
            )
            .is_err());
        assert!(auth
            .check(
                &post,
                &headers(&[cookie, host, ("sec-fetch-site", "same-site")])
            )
            .is_err());
        assert!(auth
            .check(
                &post,
                &headers(&[cookie, host, ("sec-fetch-site", "same-origin")])
            )
            .is_ok());
        // Bearer needs no origin check: no page can attach it by itself.
        assert!(auth
            .check(
                &post,
                &headers(&[
                    ("authorization", "Bearer t"),
                    ("origin", "http://evil.example")
                ])
            )
            .is_ok());
    }
}
