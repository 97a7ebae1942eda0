import CRMPluginKit
import MarketingContract

typealias EmailTemplate = Crm_Marketing_V1_Template

/// Reads and writes `marketing_templates`, and audits each write.
struct TemplateStore {
    let db: Database

    static let schema = """
        CREATE TABLE marketing_templates (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            description TEXT NOT NULL,
            subject TEXT NOT NULL,
            html_body TEXT NOT NULL,
            text_body TEXT NOT NULL,
            merge_fields TEXT NOT NULL,
            version INTEGER NOT NULL,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL,
            deleted_us INTEGER NOT NULL);
        CREATE UNIQUE INDEX marketing_templates_live_name ON marketing_templates (name_key) WHERE deleted_us = 0;
        """

    static let updateMask = UpdateMask(fields: [
        "name": 2, "description": 3, "subject": 4, "html_body": 5, "text_body": 6,
    ])

    private static let columns = """
        id, name, description, subject, html_body, text_body, merge_fields, version, created_us, updated_us, deleted_us
        """
    /// Lists leave the bodies out: 500 templates of 512 KiB would be a 500 MiB answer.
    static let listColumns = """
        id, name, description, subject, '', '', merge_fields, version, created_us, updated_us, deleted_us
        """

    static func decode(_ row: [SQLValue]) -> EmailTemplate {
        var t = EmailTemplate()
        t.id = row[0].int ?? 0
        t.name = row[1].string ?? ""
        t.description_p = row[2].string ?? ""
        t.subject = row[3].string ?? ""
        t.htmlBody = row[4].string ?? ""
        t.textBody = row[5].string ?? ""
        let fields = row[6].string ?? ""
        t.mergeFields = fields.isEmpty ? [] : fields.split(separator: " ").map(String.init)
        t.version = row[7].int ?? 0
        t.createdUnixUs = row[8].int ?? 0
        t.updatedUnixUs = row[9].int ?? 0
        t.deletedUnixUs = row[10].int ?? 0
        return t
    }

    func load(_ id: Int64) throws -> EmailTemplate? {
        guard id > 0 else { return nil }
        return try db.query("SELECT \(Self.columns) FROM marketing_templates WHERE id = ?", [.integer(id)]).first
            .map(Self.decode)
    }

    func require(_ id: Int64, field: String = "id") throws -> EmailTemplate {
        try Validate.positiveID(id, field)
        guard let t = try load(id) else { throw PluginError.notFound("\(field): template \(id) does not exist") }
        return t
    }

    /// ALREADY_EXISTS if a live template other than `id` has the name.
    func checkNameFree(_ name: String, except id: Int64, field: String) throws {
        if let other = try db.query("SELECT id FROM marketing_templates WHERE name_key = ? AND deleted_us = 0 AND id <> ?",
                                    [.text(Normalize.name(name)), .integer(id)]).first?.first?.int {
            throw PluginError.alreadyExists("\(field): template \(other) is already called \"\(name)\"")
        }
    }

    private static func values(_ t: EmailTemplate) -> [SQLValue] {
        [.text(t.name), .text(Normalize.name(t.name)), .text(t.description_p), .text(t.subject), .text(t.htmlBody),
         .text(t.textBody), .text(t.mergeFields.joined(separator: " ")), .integer(t.version), .integer(t.createdUnixUs),
         .integer(t.updatedUnixUs), .integer(t.deletedUnixUs)]
    }

    func insert(_ t: inout EmailTemplate) throws {
        t.id = try db.execute("""
            INSERT INTO marketing_templates (name, name_key, description, subject, html_body, text_body, merge_fields,
                version, created_us, updated_us, deleted_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, Self.values(t)).lastInsertID
    }

    func save(_ t: EmailTemplate) throws {
        try db.execute("""
            UPDATE marketing_templates SET name = ?, name_key = ?, description = ?, subject = ?, html_body = ?,
                text_body = ?, merge_fields = ?, version = ?, created_us = ?, updated_us = ?, deleted_us = ?
            WHERE id = ?
            """, Self.values(t) + [.integer(t.id)])
    }

    // MARK: - Audit

    /// One entry per write, with the changed fields. Bodies go in by size
    /// and digest: a 512 KiB body is over the trail's 64 KiB per value, and
    /// the digest still shows whether two versions' bodies are the same.
    static func audit(_ ctx: CallContext, _ action: String, old: EmailTemplate?, new: EmailTemplate) throws {
        try ctx.audit(AuditEntry(entity: "marketing.template", recordID: String(new.id), action: action,
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }

    static func fields(_ t: EmailTemplate) -> [String: String] {
        let pairs: [(String, String)] = [
            ("name", t.name), ("description", t.description_p), ("subject", t.subject),
            ("html_body", digest(t.htmlBody)), ("text_body", digest(t.textBody)),
            ("deleted_unix_us", t.deletedUnixUs == 0 ? "" : String(t.deletedUnixUs)),
        ]
        return Dictionary(pairs.filter { !$0.1.isEmpty }, uniquingKeysWith: { first, _ in first })
    }

    static func digest(_ body: String) -> String {
        guard !body.isEmpty else { return "" }
        let hex = SHA256.hash(Array(body.utf8)).prefix(8).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
        }.joined()
        return "\(body.utf8.count) bytes, sha256 \(hex)…"
    }
}
