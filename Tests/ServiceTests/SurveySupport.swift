import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import SwiftProtobuf

typealias SSurvey = Crm_Service_V1_Survey
typealias SInvitation = Crm_Service_V1_SurveyInvitation
typealias SAnswer = Crm_Service_V1_SurveyAnswer
typealias SForm = Crm_Service_V1_SurveyForm

let surveysService = "/crm.service.v1.Surveys/"

/// Survey calls for the tests.
extension ServiceClient {
    func surveys<Response: Message>(_ method: String, _ request: some Message, as: Response.Type = Response.self) async throws -> Response {
        try await connection.call(surveysService + method, request, as: Response.self, metadata: metadata)
    }

    /// The usual survey: a required CSAT, a CES and a comment.
    static let questions: [Crm_Service_V1_SurveyQuestion] = [
        .with { $0.key = "csat"; $0.kind = .csat; $0.prompt = "How satisfied are you?"; $0.required = true },
        .with { $0.key = "effort"; $0.kind = .ces; $0.prompt = "It was easy to get my issue handled." },
        .with { $0.key = "comment"; $0.kind = .text; $0.prompt = "Anything else?" },
    ]

    func createSurvey(_ name: String, teams: [String] = [], isDefault: Bool = false, active: Bool = true,
                      questions: [Crm_Service_V1_SurveyQuestion] = ServiceClient.questions, key: String = "") async throws -> SSurvey {
        try await surveys("CreateSurvey", Crm_Service_V1_CreateSurveyRequest.with {
            $0.survey = .with {
                $0.name = name
                $0.teams = teams
                $0.isDefault = isDefault
                $0.active = active
                $0.questions = questions
            }
            $0.idempotencyKey = key
        })
    }

    func invitations(ticket: Int64 = 0, requester: Int64 = 0) async throws -> [SInvitation] {
        let r: Crm_Service_V1_ListSurveyInvitationsResponse = try await surveys("ListSurveyInvitations", Crm_Service_V1_ListSurveyInvitationsRequest.with {
            $0.ticketID = ticket
            $0.requesterID = requester
        })
        return r.invitations
    }

    func invitation(_ id: Int64) async throws -> SInvitation {
        try await surveys("GetSurveyInvitation", Crm_Service_V1_GetSurveyInvitationRequest.with { $0.id = id })
    }

    func form(_ token: String) async throws -> SForm {
        try await surveys("GetSurveyByToken", Crm_Service_V1_GetSurveyByTokenRequest.with { $0.token = token })
    }

    @discardableResult
    func submit(_ token: String, csat: Int32 = 0, effort: Int32 = 0, comment: String = "") async throws -> SForm {
        var answers: [SAnswer] = []
        if csat != 0 { answers.append(.with { $0.questionKey = "csat"; $0.score = csat }) }
        if effort != 0 { answers.append(.with { $0.questionKey = "effort"; $0.score = effort }) }
        if !comment.isEmpty { answers.append(.with { $0.questionKey = "comment"; $0.text = comment }) }
        return try await submit(token, answers)
    }

    @discardableResult
    func submit(_ token: String, _ answers: [SAnswer]) async throws -> SForm {
        try await surveys("SubmitSurveyAnswers", Crm_Service_V1_SubmitSurveyAnswersRequest.with {
            $0.token = token
            $0.answers = answers
        })
    }

    func surveyResults(from: Int64, to: Int64, by: Crm_Service_V1_SurveyGroupBy, team: String = "", pageSize: Int32 = 0,
                       token: String = "") async throws -> Crm_Service_V1_GetSurveyResultsResponse {
        try await surveys("GetSurveyResults", Crm_Service_V1_GetSurveyResultsRequest.with {
            $0.fromUnixUs = from
            $0.toUnixUs = to
            $0.groupBy = by
            $0.team = team
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    func comments(from: Int64, to: Int64, team: String = "", pageSize: Int32 = 0, token: String = "") async throws
        -> Crm_Service_V1_ListSurveyCommentsResponse {
        try await surveys("ListSurveyComments", Crm_Service_V1_ListSurveyCommentsRequest.with {
            $0.fromUnixUs = from
            $0.toUnixUs = to
            $0.team = team
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    /// A ticket for `requester`, assigned, then solved.
    func solvedTicket(_ subject: String, requester: Int64, assignee: String = "ana", team: String = "billing") async throws -> STicket {
        let t = try await create(subject, requester: requester, assignee: assignee, team: team)
        return try await setStatus(t.id, .solved)
    }
}

/// A service world with a web edge: CRM user `edge`, whose custom role
/// grants service.survey.respond only (docs/SERVICE.md).
struct SurveyWorld {
    let world: ServiceWorld
    let edge: ServiceClient

    static func start(environment: [String: String] = [:], plugins: [String] = ["contacts", "service"],
                      dataDir: String? = nil) async throws -> SurveyWorld {
        let world = try await ServiceWorld.start(environment: environment, dataDir: dataDir, plugins: plugins)
        _ = try await world.crmd.connect().call("/crm.kernel.v1.Access/CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "survey_edge"
            $0.description_p = "The web edge serving survey links."
            $0.permissions = [.with { $0.permission = "service.survey.respond"; $0.scope = .all }]
        }, as: Crm_Kernel_V1_Role.self)
        try await AccessSupport.createUser(world.crmd, "edge", roles: ["survey_edge"])
        return SurveyWorld(world: world, edge: ServiceClient(connection: world.connection, metadata: AccessSupport.actingAs("edge")))
    }

    /// The invitation of `ticket` once the dispatch job has handed it on.
    func dispatched(_ ticket: Int64) async throws -> SInvitation {
        var found: SInvitation?
        _ = try await eventually(timeout: 15) {
            found = try await world.admin.invitations(ticket: ticket).first
            return found.map { $0.dispatch != .pending } ?? false
        }
        guard let found, found.dispatch != .pending else { throw TestFailure("ticket \(ticket)'s invitation was not dispatched") }
        return found
    }
}

/// The token of a survey link.
func token(_ link: String) -> String {
    link.components(separatedBy: "?t=").last ?? ""
}

/// Runs SQL on a stopped crmd's database (fixtures for states that take long to reach).
func surveySQL(_ path: String, _ sql: String) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()", path, sql]
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw TestFailure("sqlite fixture failed: \(sql)") }
}

/// The loopback aiosmtpd server the marketing tests use
/// (Tests/MarketingTests/Support/smtp_server.py), for the email path.
final class SurveySMTPServer {
    let dir: String
    let port: Int
    private let process = Process()

    init() throws {
        dir = NSTemporaryDirectory() + "survey-smtp-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../MarketingTests/Support/smtp_server.py").standardized.path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, dir + "/mail.jsonl", dir + "/port"]
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: dir + "/port", encoding: .utf8), let p = Int(text) {
                port = p
                return
            }
            usleep(50_000)
        }
        kill(process.processIdentifier, SIGKILL)
        throw TestFailure("the SMTP test server did not start (is aiosmtpd installed? make deps)")
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: dir)
    }

    var environment: [String: String] {
        ["CRM_PLUGIN_MARKETING_SMTP_URL": "smtp://127.0.0.1:\(port)", "CRM_PLUGIN_MARKETING_SMTP_FROM": "help@crm.example"]
    }

    /// Each accepted message's recipients and raw data.
    var received: [(rcpt: [String], data: String)] {
        guard let text = try? String(contentsOfFile: dir + "/mail.jsonl", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return (o["rcpt"] as? [String] ?? [], o["data"] as? String ?? "")
        }
    }
}
