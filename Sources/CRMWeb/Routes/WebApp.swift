import CRMRPCContract
import CRMWire
import Hummingbird
import NIOCore
import Logging

/// The web console: its stores, its crmd client and its routes.
public struct WebApp: Sendable {
    public let config: WebConfig
    let users: WebUserStore
    let signIn: SignInGuard
    let sessions: SessionStore
    let contacts: ContactsAPI
    let surveys: SurveysAPI?
    let surveyLimits = SurveyLimits()
    let logger: Logger

    static let sessionCookie = "crm_session"
    /// A visitor's token for the sign-in form (double-submit: the cookie and
    /// the form must agree), so no other site can sign a browser in.
    static let signInCookie = "crm_signin"
    static let maxBodyBytes = 64 * 1024

    public init(config: WebConfig, logger: Logger = Logger(label: "crm-web")) throws {
        self.config = config
        self.logger = logger
        users = try WebUserStore(dataDir: config.dataDir)
        signIn = SignInGuard(users: users, maxFailures: config.lockoutFailures,
                             lockoutSeconds: config.lockoutSeconds, bcryptCost: config.bcryptCost)
        sessions = SessionStore(idleSeconds: config.sessionIdleSeconds, maxSeconds: config.sessionMaxSeconds)
        let gateway = CRMGateway(socketPath: config.socketPath)
        contacts = ContactsAPI(gateway: gateway)
        surveys = config.surveyUser.map { SurveysAPI(gateway: gateway, user: $0) }
    }

    public func buildRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: OriginCheckMiddleware(expectedOrigin: { [self] in expectedOrigin($0) }))
        addSignInRoutes(to: router)
        addPeopleRoutes(to: router)
        addSurveyRoutes(to: router)
        router.get("/static/app.js") { _, _ in Responses.asset(Assets.script, type: "text/javascript; charset=utf-8") }
        router.get("/static/app.css") { _, _ in Responses.asset(Assets.style, type: "text/css; charset=utf-8") }
        return router
    }

    /// Serves until SIGTERM or SIGINT.
    public func run() async throws {
        let config = self.config
        let logger = self.logger
        let app = Application(
            router: buildRouter(),
            configuration: .init(address: .hostname(config.host, port: config.port)),
            onServerRunning: { channel in
                logger.info("crm-web listening", metadata: [
                    "address": "\(channel.localAddress.map { "\($0)" } ?? "?")", "socket": "\(config.socketPath)",
                ])
            },
            logger: logger)
        try await app.runService()
    }

    // MARK: what every route shares

    /// The origin a state-changing request must come from.
    func expectedOrigin(_ request: Request) -> String? {
        if let origin = config.publicOrigin { return origin }
        guard let authority = request.head.authority, !authority.isEmpty else { return nil }
        return (config.secureCookies ? "https://" : "http://") + authority
    }

    func session(of request: Request) -> WebSession? {
        guard let id = request.cookies[Self.sessionCookie]?.value, let session = sessions.session(id: id) else { return nil }
        // A removed web user's sessions end at their next request.
        guard (try? users.user(named: session.user)) != nil else {
            sessions.remove(id: session.id)
            return nil
        }
        return session
    }

    func cookie(_ name: String, _ value: String, clear: Bool = false) -> Cookie {
        Cookie(name: name, value: value, maxAge: clear ? 0 : nil, path: "/",
               secure: config.secureCookies, httpOnly: true, sameSite: .strict)
    }

    func readForm(_ request: Request) async throws -> Form {
        var request = request
        let body = try await request.collectBody(upTo: Self.maxBodyBytes)
        return Form(String(buffer: body))
    }

    static func query(_ request: Request) -> Form { Form(request.uri.query ?? "") }

    /// The CSRF check of a signed-in POST: the session's token in the form.
    func checkToken(_ form: Form, _ session: WebSession) -> Response? {
        guard let token = form["csrf"], Tokens.equal(token, session.csrfToken) else {
            logger.notice("refused a POST without the session's CSRF token", metadata: ["user": "\(session.user)"])
            return ErrorPage.plain(.forbidden, title: "Refused",
                                   explanation: "The form's security token is missing or stale. Reload the page and try again.",
                                   session: session)
        }
        return nil
    }

    /// Runs a signed-in page's work; a crmd refusal becomes its page, any
    /// other failure a plain one (logged, with no detail for the browser).
    func guarded(_ session: WebSession, _ work: () async throws -> Response) async throws -> Response {
        do {
            return try await work()
        } catch let error as RPCError {
            return ErrorPage.response(for: error, session: session)
        } catch let error as HTTPError {
            throw error
        } catch {
            logger.error("request failed", metadata: ["error": "\(error)", "user": "\(session.user)"])
            return ErrorPage.plain(.internalServerError, title: "Something went wrong",
                                   explanation: "crm-web could not complete the request.", session: session)
        }
    }
}

/// Refuses a state-changing request (anything but GET, HEAD, OPTIONS)
/// whose Origin (or, without one, Referer) is not crm-web's own: the second
/// CSRF check, beside the per-session token.
struct OriginCheckMiddleware<Context: RequestContext>: RouterMiddleware {
    let expectedOrigin: @Sendable (Request) -> String?

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .get || request.method == .head || request.method == .options {
            return try await next(request, context)
        }
        let expected = expectedOrigin(request)
        let sameOrigin: Bool
        if let origin = request.headers[.origin] {
            sameOrigin = expected != nil && origin == expected
        } else if let referer = request.headers[.referer], let expected {
            sameOrigin = referer == expected || referer.hasPrefix(expected + "/")
        } else {
            sameOrigin = false
        }
        guard sameOrigin else {
            return ErrorPage.plain(.forbidden, title: "Refused",
                                   explanation: "This request did not come from a page of this site.", session: nil)
        }
        return try await next(request, context)
    }
}
