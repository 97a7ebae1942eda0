import CRMPluginKit
import ServiceContract
import SwiftProtobuf

typealias Survey = Crm_Service_V1_Survey
typealias SurveyQuestion = Crm_Service_V1_SurveyQuestion

/// Survey definitions: shared configuration (write at scope all), stored
/// as message bytes with the columns the solve's choice reads.
enum SurveyDefinitions {
    static let surveys = "/crm.service.v1.Surveys/"
    static let updateMask = UpdateMask(fields: [
        "name": 2, "teams": 3, "is_default": 4, "active": 5, "questions": 6, "email_subject": 7, "email_intro": 8,
    ])

    static func register(on def: PluginDefinition) {
        def.unary(surveys + "CreateSurvey", create)
        def.unary(surveys + "GetSurvey", get)
        def.unary(surveys + "UpdateSurvey", update)
        def.unary(surveys + "ListSurveys", list)
    }

    static func load(_ db: Database, _ id: Int64) throws -> Survey? {
        guard let row = try db.query("SELECT details, version, created_us, updated_us FROM service_surveys WHERE id = ?",
                                     [.integer(id)]).first else { return nil }
        return decode(id: id, row)
    }

    static func decode(id: Int64, _ row: [SQLValue]) -> Survey {
        var s = (try? Survey(serializedBytes: row[0].bytes ?? [])) ?? Survey()
        s.id = id
        s.version = row.int(1)
        s.createdUnixUs = row.int(2)
        s.updatedUnixUs = row.int(3)
        return s
    }

    static func require(_ db: Database, _ id: Int64, field: String) throws -> Survey {
        try Validate.positiveID(id, field)
        guard let s = try load(db, id) else { throw PluginError.notFound("\(field): survey \(id) does not exist") }
        return s
    }

    /// The survey a ticket of `team` gets on solve: the active one listing
    /// the team, else the active default, else none.
    static func chosen(_ db: Database, team: String) throws -> Survey? {
        if !team.isEmpty, let id = try db.query("""
            SELECT s.id FROM service_survey_teams t JOIN service_surveys s ON s.id = t.survey_id
            WHERE t.team = ? AND s.active = 1 ORDER BY s.id LIMIT 1
            """, [.text(team)]).first?.int(0) {
            return try load(db, id)
        }
        guard let id = try db.query("SELECT id FROM service_surveys WHERE active = 1 AND is_default = 1 ORDER BY id LIMIT 1")
            .first?.int(0) else { return nil }
        return try load(db, id)
    }

    static func checkWriter(_ ctx: CallContext) throws {
        guard ctx.scope.reach == .all else {
            throw PluginError(.permissionDenied, "changing surveys needs service.survey.write at scope all")
        }
    }

    /// Checks and normalises a definition; each error names its field.
    static func validate(_ s: inout Survey, field: String) throws {
        try Check.text(&s.name, "\(field)name", max: 100)
        try Validate.required(s.name, "\(field)name")
        guard s.teams.count <= 50 else { throw PluginError.invalidArgument("\(field)teams: at most 50") }
        var seenTeams = Set<String>()
        for (i, team) in s.teams.enumerated() {
            try Validate.required(team, "\(field)teams[\(i)]")
            try Check.name(team, "\(field)teams[\(i)]")
            guard seenTeams.insert(team).inserted else { throw PluginError.invalidArgument("\(field)teams[\(i)] \"\(team)\" is repeated") }
        }
        s.teams.sort()
        guard !s.questions.isEmpty else { throw PluginError.invalidArgument("\(field)questions: a survey needs a question") }
        guard s.questions.count <= 10 else { throw PluginError.invalidArgument("\(field)questions: at most 10") }
        var seenKeys = Set<String>()
        for i in s.questions.indices {
            let f = "\(field)questions[\(i)]"
            let key = s.questions[i].key
            guard isKey(key) else {
                throw PluginError.invalidArgument("\(f).key \"\(key.prefix(60))\" is not 1-40 of a-z 0-9 _ starting with a letter")
            }
            guard seenKeys.insert(key).inserted else { throw PluginError.invalidArgument("\(f).key \"\(key)\" is repeated") }
            try Check.known(s.questions[i].kind.rawValue, 1...3, "\(f).kind")
            try Check.text(&s.questions[i].prompt, "\(f).prompt", max: 500)
            try Validate.required(s.questions[i].prompt, "\(f).prompt")
        }
        try Check.text(&s.emailSubject, "\(field)email_subject", max: 200)
        if s.emailSubject.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw PluginError.invalidArgument("\(field)email_subject holds a control character")
        }
        try Check.text(&s.emailIntro, "\(field)email_intro", max: 4000)
    }

    static func isKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard (1...40).contains(bytes.count), let first = bytes.first, first >= 97, first <= 122 else { return false }
        return bytes.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }

    /// An active survey may not share a team with, or be a second default
    /// beside, another active survey: the solve must find one answer.
    static func checkConflicts(_ db: Database, _ s: Survey) throws {
        guard s.active else { return }
        for team in s.teams {
            if let other = try db.query("""
                SELECT s.id, s.name FROM service_survey_teams t JOIN service_surveys s ON s.id = t.survey_id
                WHERE t.team = ? AND s.active = 1 AND s.id <> ? LIMIT 1
                """, [.text(team), .integer(s.id)]).first {
                throw PluginError.failedPrecondition("survey.teams: team \"\(team)\" is already in active survey \(other.int(0)) \"\(other.text(1))\"")
            }
        }
        if s.isDefault, let other = try db.query(
            "SELECT id, name FROM service_surveys WHERE active = 1 AND is_default = 1 AND id <> ? LIMIT 1", [.integer(s.id)]).first {
            throw PluginError.failedPrecondition("survey.is_default: active survey \(other.int(0)) \"\(other.text(1))\" is the default")
        }
    }

    static func save(_ db: Database, _ s: inout Survey, insert: Bool) throws {
        var details = s
        details.id = 0
        details.version = 0
        details.createdUnixUs = 0
        details.updatedUnixUs = 0
        let bytes: [UInt8] = try details.serializedBytes()
        let values: [SQLValue] = [.text(s.name), .integer(s.isDefault ? 1 : 0), .integer(s.active ? 1 : 0), .blob(bytes),
                                  .integer(s.version), .integer(s.createdUnixUs), .integer(s.updatedUnixUs)]
        if insert {
            s.id = try db.execute("""
                INSERT INTO service_surveys (name, is_default, active, details, version, created_us, updated_us)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, values).lastInsertID
        } else {
            try db.execute("""
                UPDATE service_surveys SET name = ?, is_default = ?, active = ?, details = ?, version = ?, created_us = ?, updated_us = ?
                WHERE id = ?
                """, values + [.integer(s.id)])
            try db.execute("DELETE FROM service_survey_teams WHERE survey_id = ?", [.integer(s.id)])
        }
        for team in s.teams {
            try db.execute("INSERT INTO service_survey_teams (team, survey_id) VALUES (?, ?)", [.text(team), .integer(s.id)])
        }
    }

    static func create(_ ctx: CallContext, _ req: Crm_Service_V1_CreateSurveyRequest) throws -> Survey {
        try checkWriter(ctx)
        let db = try ctx.database
        let (previous, claim) = try Service.idempotency.check(db, method: "CreateSurvey", req, key: \.idempotencyKey)
        if let previous { return try require(db, previous, field: "idempotency_key") }
        var s = req.survey
        guard s.id == 0, s.version == 0, s.createdUnixUs == 0, s.updatedUnixUs == 0 else {
            throw PluginError.invalidArgument("survey.id, version and times are set by the module")
        }
        try validate(&s, field: "survey.")
        try checkConflicts(db, s)
        let now = UTCClock.nowMicros()
        s.version = 1
        s.createdUnixUs = now
        s.updatedUnixUs = now
        try save(db, &s, insert: true)
        try audit(ctx, "create", old: nil, new: s)
        try Service.idempotency.record(db, claim, resultID: s.id)
        return s
    }

    static func get(_ ctx: CallContext, _ req: Crm_Service_V1_GetSurveyRequest) throws -> Survey {
        try require(try ctx.database, req.id, field: "id")
    }

    static func update(_ ctx: CallContext, _ req: Crm_Service_V1_UpdateSurveyRequest) throws -> Survey {
        try checkWriter(ctx)
        let fields = try updateMask.resolve(req.updateMask, req.survey)
        let db = try ctx.database
        let before = try require(db, req.survey.id, field: "survey.id")
        try Validate.expectedVersion(req.expectedVersion, before.version, noun: "survey \(before.id)")
        var s = before
        let given = req.survey
        if fields.contains("name") { s.name = given.name }
        if fields.contains("teams") { s.teams = given.teams }
        if fields.contains("is_default") { s.isDefault = given.isDefault }
        if fields.contains("active") { s.active = given.active }
        if fields.contains("questions") { s.questions = given.questions }
        if fields.contains("email_subject") { s.emailSubject = given.emailSubject }
        if fields.contains("email_intro") { s.emailIntro = given.emailIntro }
        try validate(&s, field: "survey.")
        guard s != before else { return s }
        try checkConflicts(db, s)
        s.version += 1
        s.updatedUnixUs = UTCClock.nowMicros()
        try save(db, &s, insert: false)
        try audit(ctx, "update", old: before, new: s)
        return s
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListSurveysRequest) throws -> Crm_Service_V1_ListSurveysResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if let after = paging.after { filter.add("id > ?", try tokenInt(after[0])) }
        let (rows, next) = try fetchPage(try ctx.database, """
            SELECT id, details, version, created_us, updated_us FROM service_surveys \(filter.clause) ORDER BY id LIMIT ?
            """, filter.parameters, paging, decode: { decode(id: $0.int(0), Array($0.dropFirst())) }, key: { [$0[0]] })
        var response = Crm_Service_V1_ListSurveysResponse()
        response.surveys = rows
        response.nextPageToken = next
        return response
    }

    static func audit(_ ctx: CallContext, _ action: String, old: Survey?, new: Survey) throws {
        func fields(_ s: Survey) -> [String: String] {
            let questions = s.questions.map { "\($0.key):\($0.kind):\($0.required ? "required" : "optional"):\($0.prompt)" }
            return [("name", s.name), ("teams", s.teams.joined(separator: ", ")), ("is_default", s.isDefault ? "true" : ""),
                    ("active", s.active ? "true" : ""), ("questions", questions.joined(separator: " | ")),
                    ("email_subject", s.emailSubject), ("email_intro", s.emailIntro)]
                .reduce(into: [:]) { if !$1.1.isEmpty { $0[$1.0] = $1.1 } }
        }
        try ctx.audit(AuditEntry(entity: "service.survey", recordID: String(new.id), action: action,
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }
}
