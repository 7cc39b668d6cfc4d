//! Credentials: the bearer token, the session cookie that opening
//! `/?token=...` sets (a browser's `EventSource` cannot send headers), and the
//! same-origin rule for state-changing requests that rely on the cookie or on
//! `--no-auth`.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use hyper::{Method, Response, StatusCode};
use subtle::ConstantTimeEq;

use crate::allowed_hosts::HostAllowlist;
use crate::body::Body;
use crate::error::ApiError;
use crate::session::{self, SESSION_MAX_AGE};

/// How a request proved itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer` with the token: no browser sends it on its own,
    /// so no origin check is needed.
    Bearer,
    /// The session cookie: a browser attaches it to requests other pages
    /// trigger too.
    Cookie,
    /// `--no-auth`: nothing was checked, so origins are.
    Open,
}

/// The server's token and cookie name; `token` is `None` with `--no-auth`.
#[derive(Clone, Debug)]
pub struct Auth {
    token: Option<String>,
    cookie_name: String,
    max_age: Duration,
}

/// The Unix time in seconds (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Auth {
    /// Credentials for a server on `port`. The cookie name carries the port:
    /// cookies ignore ports, and two servers on one host must not overwrite
    /// each other's.
    pub fn new(token: Option<String>, port: u16) -> Self {
        Auth {
            token,
            cookie_name: cookie_name(port),
            max_age: SESSION_MAX_AGE,
        }
    }

    fn token_matches(&self, candidate: &str) -> bool {
        match &self.token {
            Some(token) => bool::from(token.as_bytes().ct_eq(candidate.as_bytes())),
            None => true,
        }
    }

    /// Checks a request to a protected route at `now` (Unix seconds),
    /// including the same-origin rule for state-changing methods.
    pub fn check(
        &self,
        method: &Method,
        headers: &HeaderMap,
        hosts: &HostAllowlist,
        local: Option<SocketAddr>,
        now: u64,
    ) -> Result<Credential, ApiError> {
        let credential = self.credential(headers, now)?;
        let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if credential != Credential::Bearer && !safe {
            same_origin_signal(headers, hosts, local)?;
        }
        Ok(credential)
    }

    fn credential(&self, headers: &HeaderMap, now: u64) -> Result<Credential, ApiError> {
        let Some(token) = &self.token else {
            return Ok(Credential::Open);
        };
        if let Some(value) = headers.get(AUTHORIZATION) {
            let text = value.to_str().map_err(|_| ApiError::Unauthorized)?;
            return match bearer_token(text) {
                Some(candidate) if self.token_matches(candidate) => Ok(Credential::Bearer),
                _ => Err(ApiError::Unauthorized),
            };
        }
        let from_cookie = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| cookie_values(v, &self.cookie_name))
            .any(|value| {
                session::verify(token, &self.cookie_name, value, now, self.max_age).is_ok()
            });
        if from_cookie {
            Ok(Credential::Cookie)
        } else {
            Err(ApiError::Unauthorized)
        }
    }

    /// `GET /anything?token=...`: a valid token sets the session cookie and
    /// redirects to the same URL without the token (so it leaves the address
    /// bar and the history); a wrong one is refused. `None` when the query
    /// holds no token.
    pub fn token_redirect(
        &self,
        path: &str,
        query: Option<&str>,
        now: u64,
    ) -> Option<Response<Body>> {
        let (token, rest) = token_from_query(query?)?;
        if !self.token_matches(&token) {
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
            let session = session::issue(t, &self.cookie_name, now);
            HeaderValue::from_str(&format!(
                "{}={session}; Max-Age={}; Path=/; HttpOnly; SameSite=Strict",
                self.cookie_name,
                self.max_age.as_secs()
            ))
            .ok()
        }) {
            headers.insert(SET_COOKIE, value);
        }
        Some(response)
    }
}

/// The session cookie's name on `port`.
pub fn cookie_name(port: u16) -> String {
    format!("tidings_token_{port}")
}

/// The token of an `Authorization: Bearer <token>` value. The scheme name is
/// case-insensitive (RFC 7235, section 2.1), so `BEARER` works too.
pub fn bearer_token(value: &str) -> Option<&str> {
    let scheme = value.get(..7)?;
    scheme
        .eq_ignore_ascii_case("bearer ")
        .then(|| value[7..].trim())
}

/// The values of every cookie called `name` in one `Cookie` header value
/// (`a=1; b=2`).
pub fn cookie_values<'a>(header: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The `token` of a query string (percent-decoded) and the other pairs as
/// they were; `None` when there is no `token`.
pub fn token_from_query(query: &str) -> Option<(String, Vec<&str>)> {
    let mut token = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("token", value)) => token = Some(value),
            _ => rest.push(pair),
        }
    }
    let token = percent_encoding::percent_decode_str(token?)
        .decode_utf8_lossy()
        .into_owned();
    Some((token, rest))
}

/// Refuses a state-changing request that carries no positive sign of
/// coming from this server's own pages.
///
/// Every current browser sends `Sec-Fetch-Site`, and an `Origin` with every
/// `POST`/`DELETE`; neither can be set by a page. So: a `Sec-Fetch-Site`
/// other than `same-origin` is refused; an `Origin` must be on the host
/// allowlist; and a request with neither `Sec-Fetch-Site: same-origin` nor an
/// allowed `Origin` is refused too (scripts send the bearer token instead).
pub fn same_origin_signal(
    headers: &HeaderMap,
    hosts: &HostAllowlist,
    local: Option<SocketAddr>,
) -> Result<(), ApiError> {
    let mut same_origin = false;
    if let Some(site) = headers.get("sec-fetch-site") {
        if site.as_bytes() != b"same-origin" {
            return Err(ApiError::Forbidden(
                "cross-origin request refused (Sec-Fetch-Site is not same-origin)".into(),
            ));
        }
        same_origin = true;
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|o| hosts.allows_origin(o, local));
        if !allowed {
            return Err(ApiError::Forbidden(
                "cross-origin request refused (Origin is not an allowed host)".into(),
            ));
        }
        same_origin = true;
    }
    if same_origin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "cross-origin check failed: a state-changing request with cookie or --no-auth \
             credentials needs Sec-Fetch-Site: same-origin or an allowed Origin \
             (scripts: send Authorization: Bearer <token>; with --no-auth, an Origin of this server)"
                .into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_750_000_000;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("a header value"));
        }
        h
    }

    fn hosts() -> HostAllowlist {
        HostAllowlist::new("127.0.0.1:1".parse().expect("an address"), &[])
    }

    fn check(
        auth: &Auth,
        method: Method,
        pairs: &[(&'static str, &str)],
    ) -> Result<Credential, ApiError> {
        auth.check(&method, &headers(pairs), &hosts(), None, NOW)
    }

    #[test]
    fn bearer_and_session_cookie_are_accepted_and_the_raw_token_refused() {
        let token = "s3cret-s3cret-s3cret";
        let auth = Auth::new(Some(token.into()), 7171);
        let session = session::issue(token, "tidings_token_7171", NOW);
        let bearer = format!("Bearer {token}");
        assert_eq!(
            check(&auth, Method::GET, &[("authorization", &bearer)]).ok(),
            Some(Credential::Bearer)
        );
        assert!(check(&auth, Method::GET, &[("authorization", "Bearer nope")]).is_err());
        assert!(check(&auth, Method::GET, &[]).is_err());
        let cookie = format!("a=b; tidings_token_7171={session}");
        assert_eq!(
            check(&auth, Method::GET, &[("cookie", &cookie)]).ok(),
            Some(Credential::Cookie)
        );
        let raw = format!("tidings_token_7171={token}");
        assert!(check(&auth, Method::GET, &[("cookie", &raw)]).is_err());
        let other_port = format!("tidings_token_7172={session}");
        assert!(check(&auth, Method::GET, &[("cookie", &other_port)]).is_err());
    }

    #[test]
    fn cookie_and_open_posts_need_a_positive_same_origin_signal() {
        let token = "t-t-t-t-t-t-t-t-t-t";
        let auth = Auth::new(Some(token.into()), 1);
        let cookie = format!(
            "tidings_token_1={}",
            session::issue(token, "tidings_token_1", NOW)
        );
        let cookie = ("cookie", cookie.as_str());
        let post = Method::POST;
        assert!(check(
            &auth,
            post.clone(),
            &[cookie, ("origin", "http://127.0.0.1:1")]
        )
        .is_ok());
        assert!(check(
            &auth,
            post.clone(),
            &[cookie, ("sec-fetch-site", "same-origin")]
        )
        .is_ok());
        for refused in [
            vec![cookie],
            vec![cookie, ("origin", "http://evil.example")],
            vec![cookie, ("origin", "null")],
            vec![cookie, ("sec-fetch-site", "same-site")],
            vec![cookie, ("sec-fetch-site", "none")],
            vec![
                cookie,
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://127.0.0.1:1"),
            ],
        ] {
            assert!(check(&auth, post.clone(), &refused).is_err(), "{refused:?}");
        }
        // Reading needs no signal.
        assert!(check(&auth, Method::GET, &[cookie]).is_ok());
        // Bearer needs no origin check: no page can attach it by itself.
        assert!(check(
            &auth,
            post.clone(),
            &[("authorization", "Bearer t-t-t-t-t-t-t-t-t-t")]
        )
        .is_ok());
        let open = Auth::new(None, 1);
        assert!(check(&open, post.clone(), &[]).is_err());
        assert!(check(&open, Method::DELETE, &[("sec-fetch-site", "same-origin")]).is_ok());
    }

    #[test]
    fn cookies_and_query_tokens_parse() {
        let values: Vec<_> = cookie_values(
            "a=1; tidings_token_1=\"x\"; tidings_token_1=y",
            "tidings_token_1",
        )
        .collect();
        assert_eq!(values, ["x", "y"]);
        assert_eq!(cookie_values("broken; =; a", "a").count(), 0);
        // Found by fuzzing: the scheme name is case-insensitive.
        for value in ["Bearer x", "bearer x", "BEARER x", "bEaReR  x "] {
            assert_eq!(bearer_token(value), Some("x"), "{value}");
        }
        assert_eq!(bearer_token("Bearerx"), None);
        assert_eq!(bearer_token("Basic x"), None);
        let (token, rest) = token_from_query("tab=2&token=a%2Db&&x").expect("a token");
        assert_eq!((token.as_str(), rest), ("a-b", vec!["tab=2", "x"]));
        assert!(token_from_query("tab=2").is_none());
    }

    #[test]
    fn the_redirect_sets_a_session_cookie_with_max_age() {
        let token = "s3cret-s3cret-s3cret";
        let auth = Auth::new(Some(token.into()), 7171);
        let response = auth
            .token_redirect("/", Some("token=s3cret-s3cret-s3cret&tab=2"), NOW)
            .expect("a redirect");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let cookie = response.headers()[SET_COOKIE].to_str().expect("text");
        assert!(!cookie.contains(token), "{cookie}");
        assert!(
            cookie.contains("; Max-Age=604800; Path=/; HttpOnly; SameSite=Strict"),
            "{cookie}"
        );
        let wrong = auth
            .token_redirect("/", Some("token=nope"), NOW)
            .expect("an answer");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
}
