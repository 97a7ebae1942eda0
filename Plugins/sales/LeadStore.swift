import CRMPluginKit
import Foundation
import SalesContract

/// Reads, writes and validates rows of `sales_leads`.
struct LeadStore {
    let db: Database

    static let columns = """
        id, first_name, last_name, email, phone, company, job_title, source, status, owner, notes, \
        disqualified_reason, person_id, organization_id, opportunity_id, version, created_us, updated_us
        """

    /// Fields UpdateLead may replace. Status moves between NEW and CONTACTED
    /// only; QualifyLead and ConvertLead set the others.
    static let updateMask = UpdateMask(fields: [
        "first_name": 2, "last_name": 3, "email": 4, "phone": 5, "company": 6, "job_title": 7, "source": 8, "status": 9,
        "owner": 10, "notes": 11,
    ], elsewhere: [
        "disqualified_reason": "QualifyLead", "person_id": "ConvertLead", "organization_id": "ConvertLead",
        "opportunity_id": "ConvertLead",
    ])

    static func decode(_ row: [SQLValue]) -> Lead {
        var lead = Lead()
        lead.id = row.int(0)
        lead.firstName = row.text(1)
        lead.lastName = row.text(2)
        lead.email = row.text(3)
        lead.phone = row.text(4)
        lead.company = row.text(5)
        lead.jobTitle = row.text(6)
        lead.source = row.text(7)
        lead.status = Crm_Sales_V1_LeadStatus(rawValue: Int(row.int(8))) ?? .unspecified
        lead.owner = row.text(9)
        lead.notes = row.text(10)
        lead.disqualifiedReason = row.text(11)
        lead.personID = row.int(12)
        lead.organizationID = row.int(13)
        lead.opportunityID = row.int(14)
        lead.version = row.int(15)
        lead.createdUnixUs = row.int(16)
        lead.updatedUnixUs = row.int(17)
        return lead
    }

    private static func values(_ lead: Lead) -> [SQLValue] {
        [.text(lead.firstName), .text(lead.lastName), .text(lead.email), .text(lead.phone), .text(lead.company),
         .text(lead.jobTitle), .text(lead.source), .integer(Int64(lead.status.rawValue)), .text(lead.owner),
         .text(lead.notes), .text(lead.disqualifiedReason), .integer(lead.personID), .integer(lead.organizationID),
         .integer(lead.opportunityID), .integer(lead.version), .integer(lead.createdUnixUs), .integer(lead.updatedUnixUs)]
    }

    func load(_ id: Int64) throws -> Lead? {
        guard id > 0 else { return nil }
        return try db.query("SELECT \(Self.columns) FROM sales_leads WHERE id = ?", [.integer(id)]).first.map(Self.decode)
    }

    /// The lead, or INVALID_ARGUMENT / NOT_FOUND naming `field`.
    func require(_ id: Int64, field: String = "id") throws -> Lead {
        try Validate.positiveID(id, field)
        guard let lead = try load(id) else { throw PluginError.notFound("\(field): lead \(id) does not exist") }
        return lead
    }

    /// The lead if `scope` reaches it; NOT_FOUND as for a missing id otherwise.
    func require(_ id: Int64, field: String = "id", readableIn scope: RecordScope) throws -> Lead {
        let lead = try require(id, field: field)
        try SalesScope.readable(scope, owner: lead.owner, PluginError.notFound("\(field): lead \(id) does not exist"))
        return lead
    }

    /// The lead if `scope` reaches it; PERMISSION_DENIED otherwise (a write).
    func require(_ id: Int64, field: String = "id", writableIn scope: RecordScope) throws -> Lead {
        let lead = try require(id, field: field)
        try scope.checkWritable(owner: lead.owner, "\(field): lead \(id)")
        return lead
    }

    func insert(_ lead: inout Lead) throws {
        lead.id = try db.execute("""
            INSERT INTO sales_leads (\(Self.columns.dropFirst(4)))
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, Self.values(lead)).lastInsertID
    }

    func save(_ lead: Lead) throws {
        try db.execute("""
            UPDATE sales_leads SET first_name = ?, last_name = ?, email = ?, phone = ?, company = ?, job_title = ?,
                source = ?, status = ?, owner = ?, notes = ?, disqualified_reason = ?, person_id = ?, organization_id = ?,
                opportunity_id = ?, version = ?, created_us = ?, updated_us = ?
            WHERE id = ?
            """, Self.values(lead) + [.integer(lead.id)])
    }

    /// Copies the selected fields.
    static func apply(_ source: Lead, to lead: inout Lead, fields: UpdateMask.Selection) {
        if fields.contains("first_name") { lead.firstName = source.firstName }
        if fields.contains("last_name") { lead.lastName = source.lastName }
        if fields.contains("email") { lead.email = source.email }
        if fields.contains("phone") { lead.phone = source.phone }
        if fields.contains("company") { lead.company = source.company }
        if fields.contains("job_title") { lead.jobTitle = source.jobTitle }
        if fields.contains("source") { lead.source = source.source }
        // A whole-record replace without a status keeps the current one.
        if fields.contains("status") && !(fields.replacesAll && source.status == .unspecified) { lead.status = source.status }
        if fields.contains("owner") { lead.owner = source.owner }
        if fields.contains("notes") { lead.notes = source.notes }
    }

    /// Trims and checks the writable fields; `field` prefixes the names in errors.
    static func validate(_ lead: inout Lead, field: String = "lead") throws {
        try Check.text(&lead.firstName, "\(field).first_name", max: 100)
        try Check.text(&lead.lastName, "\(field).last_name", max: 100)
        try Check.text(&lead.company, "\(field).company", max: 200)
        if lead.lastName.isEmpty && lead.company.isEmpty {
            throw PluginError.invalidArgument("\(field).last_name or \(field).company is required")
        }
        try Check.text(&lead.email, "\(field).email", max: 254)
        if !lead.email.isEmpty { try Validate.email(lead.email, "\(field).email") }
        try Check.text(&lead.phone, "\(field).phone", max: 40)
        if !lead.phone.isEmpty { try Validate.phone(lead.phone, "\(field).phone") }
        try Check.text(&lead.jobTitle, "\(field).job_title", max: 100)
        try Check.text(&lead.source, "\(field).source", max: 50)
        try Check.text(&lead.owner, "\(field).owner", max: 100)
        try Validate.maxLength(lead.notes, "\(field).notes", 10_000)
    }

    /// Checks a status set by create or update (not by qualify or convert).
    static func checkSettableStatus(_ status: Crm_Sales_V1_LeadStatus, field: String) throws {
        switch status {
        case .new, .contacted: return
        case .qualified, .disqualified, .converted:
            throw PluginError.invalidArgument(
                "\(field) can be set to NEW or CONTACTED only; QualifyLead and ConvertLead set \(status)")
        default:
            throw PluginError.invalidArgument("\(field) \(status.rawValue) is not a lead status")
        }
    }

    static func displayName(_ lead: Lead) -> String {
        let name = [lead.firstName, lead.lastName].filter { !$0.isEmpty }.joined(separator: " ")
        switch (name.isEmpty, lead.company.isEmpty) {
        case (true, _): return lead.company
        case (false, true): return name
        case (false, false): return "\(name) (\(lead.company))"
        }
    }
}
