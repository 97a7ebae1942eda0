import CRMPluginKit
import SalesContract

/// Reads and writes `sales_opportunities` and their `sales_stage_history`.
struct OpportunityStore {
    let db: Database

    /// The stage name comes from the stage, which is never renamed. A won
    /// or lost opportunity is at its outcome, as its history says: stage 0,
    /// "Won" or "Lost" (rows closed before that rule kept their last stage id).
    static let select = """
        SELECT o.id, o.name, o.pipeline_id, CASE WHEN o.status IN (2, 3) THEN 0 ELSE o.stage_id END,
            CASE o.status WHEN 2 THEN 'Won' WHEN 3 THEN 'Lost' ELSE s.name END, o.probability, o.status, o.amount_minor,
            o.currency, o.expected_close_date, o.owner, o.person_id, o.organization_id, o.lead_id, o.lost_reason, o.closed_us,
            o.version, o.created_us, o.updated_us
        FROM sales_opportunities o LEFT JOIN sales_stages s ON s.id = o.stage_id
        """

    static let updateMask = UpdateMask(fields: [
        "name": 2, "amount": 8, "expected_close_date": 9, "owner": 10, "person_id": 11, "organization_id": 12,
    ], elsewhere: [
        "stage_id": "MoveOpportunity", "probability": "MoveOpportunity", "status": "WinOpportunity or LoseOpportunity",
        "lost_reason": "LoseOpportunity", "pipeline_id": "MoveOpportunity",
    ])

    static func decode(_ row: [SQLValue]) -> Opportunity {
        var o = Opportunity()
        o.id = row.int(0)
        o.name = row.text(1)
        o.pipelineID = row.int(2)
        o.stageID = row.int(3)
        o.stageName = row.text(4)
        o.probability = row.int32(5)
        o.status = Crm_Sales_V1_OpportunityStatus(rawValue: Int(row.int(6))) ?? .unspecified
        let currency = row.text(8)
        if !currency.isEmpty || row.int(7) != 0 {
            o.amount = Money.with { $0.amountMinor = row.int(7); $0.currency = currency }
        }
        o.expectedCloseDate = row.text(9)
        o.owner = row.text(10)
        o.personID = row.int(11)
        o.organizationID = row.int(12)
        o.leadID = row.int(13)
        o.lostReason = row.text(14)
        o.closedUnixUs = row.int(15)
        o.version = row.int(16)
        o.createdUnixUs = row.int(17)
        o.updatedUnixUs = row.int(18)
        return o
    }

    private static func values(_ o: Opportunity) -> [SQLValue] {
        [.text(o.name), .integer(o.pipelineID), .integer(o.stageID), .integer(Int64(o.probability)),
         .integer(Int64(o.status.rawValue)), .integer(o.amount.amountMinor), .text(o.amount.currency),
         .text(o.expectedCloseDate), .text(o.owner), .integer(o.personID), .integer(o.organizationID), .integer(o.leadID),
         .text(o.lostReason), .integer(o.closedUnixUs), .integer(o.version), .integer(o.createdUnixUs),
         .integer(o.updatedUnixUs)]
    }

    func load(_ id: Int64, history: Bool = true) throws -> Opportunity? {
        guard id > 0, let row = try db.query(Self.select + " WHERE o.id = ?", [.integer(id)]).first else { return nil }
        var opportunity = Self.decode(row)
        if history { opportunity.stageHistory = try self.history(id) }
        return opportunity
    }

    func require(_ id: Int64, field: String = "id") throws -> Opportunity {
        try Validate.positiveID(id, field)
        guard let opportunity = try load(id) else { throw PluginError.notFound("\(field): opportunity \(id) does not exist") }
        return opportunity
    }

    /// The opportunity if `scope` reaches it; NOT_FOUND as for a missing id otherwise.
    func require(_ id: Int64, field: String = "id", readableIn scope: RecordScope) throws -> Opportunity {
        let o = try require(id, field: field)
        try SalesScope.readable(scope, owner: o.owner, PluginError.notFound("\(field): opportunity \(id) does not exist"))
        return o
    }

    /// The opportunity if `scope` reaches it; PERMISSION_DENIED otherwise (a write).
    func require(_ id: Int64, field: String = "id", writableIn scope: RecordScope) throws -> Opportunity {
        let o = try require(id, field: field)
        try scope.checkWritable(owner: o.owner, "\(field): opportunity \(id)")
        return o
    }

    /// Oldest first; the current stage (or outcome) is the last, with no left time.
    func history(_ id: Int64) throws -> [Crm_Sales_V1_StageChange] {
        try db.query("""
            SELECT stage_id, stage_name, entered_us, left_us FROM sales_stage_history
            WHERE opportunity_id = ? ORDER BY id
            """, [.integer(id)]).map { row in
            Crm_Sales_V1_StageChange.with {
                $0.stageID = row.int(0)
                $0.stageName = row.text(1)
                $0.enteredUnixUs = row.int(2)
                $0.leftUnixUs = row.int(3)
            }
        }
    }

    /// Inserts a new opportunity and its first history row.
    func insert(_ o: inout Opportunity) throws {
        o.id = try db.execute("""
            INSERT INTO sales_opportunities (name, pipeline_id, stage_id, probability, status, amount_minor, currency,
                expected_close_date, owner, person_id, organization_id, lead_id, lost_reason, closed_us, version,
                created_us, updated_us)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, Self.values(o)).lastInsertID
        try enter(o.id, stageID: o.stageID, stageName: o.stageName, at: o.createdUnixUs)
    }

    func save(_ o: Opportunity) throws {
        try db.execute("""
            UPDATE sales_opportunities SET name = ?, pipeline_id = ?, stage_id = ?, probability = ?, status = ?,
                amount_minor = ?, currency = ?, expected_close_date = ?, owner = ?, person_id = ?, organization_id = ?,
                lead_id = ?, lost_reason = ?, closed_us = ?, version = ?, created_us = ?, updated_us = ?
            WHERE id = ?
            """, Self.values(o) + [.integer(o.id)])
    }

    /// Closes the current history row and opens one for `stageID` (0 with
    /// "Won" or "Lost" for an outcome).
    func enter(_ id: Int64, stageID: Int64, stageName: String, at time: Int64) throws {
        try db.execute("UPDATE sales_stage_history SET left_us = ? WHERE opportunity_id = ? AND left_us = 0",
                       [.integer(time), .integer(id)])
        try db.execute("""
            INSERT INTO sales_stage_history (opportunity_id, stage_id, stage_name, entered_us, left_us) VALUES (?, ?, ?, ?, 0)
            """, [.integer(id), .integer(stageID), .text(stageName), .integer(time)])
    }

    static func copy(_ source: Opportunity, to o: inout Opportunity, fields: Set<String>) {
        if fields.contains("name") { o.name = source.name }
        if fields.contains("amount") {
            if source.hasAmount { o.amount = source.amount } else { o.clearAmount() }
        }
        if fields.contains("expected_close_date") { o.expectedCloseDate = source.expectedCloseDate }
        if fields.contains("owner") { o.owner = source.owner }
        if fields.contains("person_id") { o.personID = source.personID }
        if fields.contains("organization_id") { o.organizationID = source.organizationID }
    }

    static func describe(_ o: Opportunity) -> String { "Opportunity '\(o.name)'" }
}
