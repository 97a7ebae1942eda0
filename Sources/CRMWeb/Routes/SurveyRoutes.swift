import CRMRPCContract
import CRMWire
import Foundation
import Hummingbird
import ServiceContract
import Synchronization

/// The public survey page (docs/WEB.md "Survey links"): GET shows the form
/// and changes nothing; POST records the answers. Both need no session, so
/// both are rate limited: per link, and for all links together (a guesser
/// of tokens gets 429s long before a valid one; the tokens are signed).
extension WebApp {

    func addSurveyRoutes(to router: Router<BasicRequestContext>) {
        router.get("/service/survey") { request, _ -> Response in
            let token = Self.query(request)["t"] ?? ""
            return try await surveyPage(token: token) { api in
                Responses.html(SurveyPage.form(try await api.form(token: token), token: token))
            }
        }
        router.post("/service/survey") { request, _ -> Response in
            let form = try await readForm(request)
            let token = form["t"] ?? ""
            return try await surveyPage(token: token) { api in
                let current = try await api.form(token: token)
                let answers = Self.answers(form, current.questions)
                do {
                    let saved = try await api.submit(token: token, answers: answers)
                    return Responses.html(SurveyPage.thanks(saved, token: token))
                } catch let error as RPCError where error.code == .invalidArgument {
                    // The module names what is wrong ("answers: question "csat" is required").
                    var shown = current
                    shown.answers = answers
                    return Responses.html(SurveyPage.form(shown, token: token, error: error.message), status: .badRequest)
                }
            }
        }
    }

    /// The answers of the form's fields, one per question answered.
    static func answers(_ form: Form, _ questions: [Crm_Service_V1_SurveyQuestion]) -> [Crm_Service_V1_SurveyAnswer] {
        questions.compactMap { q in
            guard let value = form["q_" + q.key]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
            var answer = Crm_Service_V1_SurveyAnswer()
            answer.questionKey = q.key
            switch q.kind {
            case .csat, .ces:
                // A value that is not a small number goes as 0, which the module refuses by name.
                answer.score = Int32(value).flatMap { (0...100).contains($0) ? $0 : nil } ?? 0
            default:
                answer.text = String(value.prefix(4000))
            }
            return answer
        }
    }

    /// Runs a survey page's work behind the limits; a bad link or crmd's
    /// refusal becomes a page without detail a guesser could use.
    func surveyPage(token: String, _ work: (SurveysAPI) async throws -> Response) async throws -> Response {
        guard let api = surveys else {
            return ErrorPage.plain(.notFound, title: "Not found", explanation: "Survey links are not served here.", session: nil)
        }
        guard surveyLimits.allow(token) else {
            return ErrorPage.plain(.tooManyRequests, title: "Too many requests", explanation: "Try again in a minute.", session: nil)
        }
        guard !token.isEmpty, token.utf8.count <= 200 else { return Self.unknownLink() }
        do {
            return try await work(api)
        } catch let error as RPCError where error.code == .notFound || error.code == .invalidArgument {
            return Self.unknownLink()
        } catch let error as RPCError {
            logger.error("survey page failed", metadata: ["status": "\(error.code.name)", "error": "\(error.message)"])
            return ErrorPage.response(for: error, session: nil)
        }
    }

    static func unknownLink() -> Response {
        ErrorPage.plain(.notFound, title: "Link not valid",
                        explanation: "This survey link is not valid or has expired.", session: nil)
    }
}

/// Requests per minute, per link and for all links: fixed one-minute
/// windows, forgotten when they end.
final class SurveyLimits: Sendable {
    let perLink: Int
    let overall: Int
    private let state = Mutex<(window: Int64, all: Int, links: [String: Int])>((0, 0, [:]))

    init(perLink: Int = 20, overall: Int = 600) {
        self.perLink = perLink
        self.overall = overall
    }

    func allow(_ token: String, now: Int64 = nowMicros()) -> Bool {
        state.withLock { s in
            let window = now / 60_000_000
            if window != s.window { s = (window, 0, [:]) }
            let used = s.links[token, default: 0]
            guard s.all < overall, used < perLink else { return false }
            s.all += 1
            s.links[token] = used + 1
            return true
        }
    }
}
