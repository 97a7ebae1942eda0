import Hummingbird

/// `/` for a visitor, sign-in and sign-out.
extension WebApp {
    func addSignInRoutes(to router: Router<BasicRequestContext>) {
        router.get("/") { request, _ -> Response in
            guard let session = session(of: request) else { return signInPage(request) }
            return try await searchPage(request, session)
        }

        router.post("/signin") { request, _ -> Response in
            let form = try await readForm(request)
            guard let cookieToken = request.cookies[Self.signInCookie]?.value, Tokens.isWellFormed(cookieToken),
                  let formToken = form["csrf"], Tokens.equal(formToken, cookieToken) else {
                return ErrorPage.plain(.forbidden, title: "Refused",
                                       explanation: "The sign-in form's security token is missing or stale. Reload the page and try again.",
                                       session: nil)
            }
            let name = form["name"] ?? ""
            switch try await signIn.attempt(name: name, password: form["password"] ?? "") {
            case .signedIn(let user):
                let session = sessions.create(user: user)
                logger.info("signed in", metadata: ["user": "\(user)"])
                var response = Responses.redirect("/")
                response.setCookie(cookie(Self.sessionCookie, session.id))
                response.setCookie(cookie(Self.signInCookie, "", clear: true))
                return response
            case .busy:
                logger.notice("sign-in refused: too many at once", metadata: ["name": "\(name.prefix(64))"])
                var response = Responses.html(SignInPage.render(formToken: cookieToken, name: name, error: SignInPage.busy),
                                              status: .serviceUnavailable)
                response.headers[.retryAfter] = "1"
                return response
            case .refused:
                logger.notice("sign-in refused", metadata: ["name": "\(name.prefix(64))"])
                return Responses.html(SignInPage.render(formToken: cookieToken, name: name, error: SignInPage.refusal),
                                      status: .unauthorized)
            }
        }

        router.post("/signout") { request, _ -> Response in
            guard let session = session(of: request) else { return Responses.redirect("/") }
            let form = try await readForm(request)
            if let refusal = checkToken(form, session) { return refusal }
            sessions.remove(id: session.id)
            logger.info("signed out", metadata: ["user": "\(session.user)"])
            var response = Responses.redirect("/")
            response.setCookie(cookie(Self.sessionCookie, "", clear: true))
            return response
        }
    }

    /// The sign-in page, with the visitor's form token (a new one if the
    /// browser has none yet).
    func signInPage(_ request: Request) -> Response {
        if let token = request.cookies[Self.signInCookie]?.value, Tokens.isWellFormed(token) {
            return Responses.html(SignInPage.render(formToken: token))
        }
        let token = Tokens.random()
        var response = Responses.html(SignInPage.render(formToken: token))
        response.setCookie(cookie(Self.signInCookie, token))
        return response
    }
}
