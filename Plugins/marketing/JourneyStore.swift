import CRMPluginKit
import MarketingContract

/// Reading and writing journey rows.
enum JourneyStore {
    static let columns = "id, name, description, entry_segment_id, allow_reentry, reentry_gap_us, steps, state, version, created_us, updated_us"

    static func steps(_ blob: [UInt8]) throws -> [JourneyStep] {
        try Journey(serializedBytes: blob).steps
    }

    static func stepsBlob(_ steps: [JourneyStep]) throws -> [UInt8] {
        try Journey.with { $0.steps = steps }.serializedBytes()
    }

    static func decode(_ row: [SQLValue]) throws -> Journey {
        var j = Journey()
        j.id = row[0].int ?? 0
        j.name = row[1].string ?? ""
        j.description_p = row[2].string ?? ""
        j.entrySegmentID = row[3].int ?? 0
        j.allowReentry = row[4].int == 1
        j.reentryGapUs = row[5].int ?? 0
        j.steps = try steps(row[6].bytes ?? [])
        j.state = Crm_Marketing_V1_JourneyState(rawValue: Int(row[7].int ?? 0)) ?? .unspecified
        j.version = row[8].int ?? 0
        j.createdUnixUs = row[9].int ?? 0
        j.updatedUnixUs = row[10].int ?? 0
        return j
    }

    static func require(_ db: Database, _ id: Int64, field: String = "id") throws -> Journey {
        try Validate.positiveID(id, field)
        guard let row = try db.query("SELECT \(columns) FROM marketing_journeys WHERE id = ?", [.integer(id)]).first else {
            throw PluginError.notFound("\(field): journey \(id) does not exist")
        }
        return try decode(row)
    }

    static func save(_ db: Database, _ j: Journey) throws {
        try db.execute("""
            UPDATE marketing_journeys SET name = ?, description = ?, entry_segment_id = ?, allow_reentry = ?,
                reentry_gap_us = ?, steps = ?, state = ?, version = ?, updated_us = ? WHERE id = ?
            """, [.text(j.name), .text(j.description_p), .integer(j.entrySegmentID), .integer(j.allowReentry ? 1 : 0),
                  .integer(j.reentryGapUs), .blob(try stepsBlob(j.steps)), .integer(Int64(j.state.rawValue)),
                  .integer(j.version), .integer(j.updatedUnixUs), .integer(j.id)])
    }

    static func insert(_ db: Database, _ j: Journey, now: Int64) throws -> Int64 {
        try db.execute("""
            INSERT INTO marketing_journeys (name, description, entry_segment_id, allow_reentry, reentry_gap_us, steps,
                state, version, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, 1, 1, ?, ?)
            """, [.text(j.name), .text(j.description_p), .integer(j.entrySegmentID), .integer(j.allowReentry ? 1 : 0),
                  .integer(j.reentryGapUs), .blob(try stepsBlob(j.steps)), .integer(now), .integer(now)]).lastInsertID
    }

    // MARK: - Audit

    static func fields(_ j: Journey) -> [String: String] {
        var out = ["name": j.name, "state": "\(j.state)", "allow_reentry": String(j.allowReentry),
                   "reentry_gap_us": String(j.reentryGapUs), "entry_segment_id": String(j.entrySegmentID),
                   "steps": (try? Journey.with { $0.steps = j.steps }.jsonString()) ?? ""]
        if !j.description_p.isEmpty { out["description"] = j.description_p }
        return out
    }

    static func audit(_ ctx: CallContext, _ action: String, old: Journey?, new: Journey) throws {
        try ctx.audit(AuditEntry(entity: "marketing.journey", recordID: String(new.id), action: action,
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }
}
