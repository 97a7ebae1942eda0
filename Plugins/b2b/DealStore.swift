import B2BContract
import CRMPluginKit

/// A deal's row: its opportunity (unique: one deal per opportunity), its
/// pipeline and stage, the selling and buying organizations, and what sales
/// last said of the opportunity (owner, name, amount, close date, person),
/// kept in step by the deal's own writes and by sales' events. The
/// scorecard is one row per scored criterion.
enum DealStore {
    static let schema = """
        CREATE TABLE b2b_deals (
            id INTEGER PRIMARY KEY,
            opportunity_id INTEGER NOT NULL UNIQUE,
            pipeline_id INTEGER NOT NULL REFERENCES b2b_deal_pipelines (id),
            stage TEXT NOT NULL,
            status INTEGER NOT NULL,
            selling_organization_id INTEGER NOT NULL,
            buying_organization_id INTEGER NOT NULL,
            owner TEXT NOT NULL,
            name TEXT NOT NULL,
            amount_minor INTEGER NOT NULL,
            currency TEXT NOT NULL,
            expected_close_date TEXT NOT NULL,
            person_id INTEGER NOT NULL,
            lost_reason TEXT NOT NULL,
            version INTEGER NOT NULL,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL,
            opportunity_version INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX b2b_deals_by_owner ON b2b_deals (owner, id);
        CREATE INDEX b2b_deals_by_status ON b2b_deals (status, id);
        CREATE INDEX b2b_deals_by_pipeline ON b2b_deals (pipeline_id, id);
        CREATE INDEX b2b_deals_by_buyer ON b2b_deals (buying_organization_id, id);
        CREATE INDEX b2b_deals_by_seller ON b2b_deals (selling_organization_id);
        CREATE INDEX b2b_deals_by_person ON b2b_deals (person_id);
        CREATE TABLE b2b_deal_scores (
            deal_id INTEGER NOT NULL REFERENCES b2b_deals (id),
            criterion TEXT NOT NULL,
            met INTEGER NOT NULL,
            evidence TEXT NOT NULL,
            scored_by TEXT NOT NULL,
            scored_us INTEGER NOT NULL,
            PRIMARY KEY (deal_id, criterion));
        """

    static let columns = """
        id, opportunity_id, pipeline_id, stage, status, selling_organization_id, buying_organization_id, owner, name,
        amount_minor, currency, expected_close_date, person_id, lost_reason, version, created_us, updated_us
        """

    static func decode(_ row: [SQLValue]) -> Crm_B2b_V1_Deal {
        .with {
            $0.id = row.int(0)
            $0.opportunityID = row.int(1)
            $0.pipelineID = row.int(2)
            $0.stage = row.text(3)
            $0.status = Crm_B2b_V1_DealStatus(rawValue: Int(truncatingIfNeeded: row.int(4))) ?? .unspecified
            $0.sellingOrganizationID = row.int(5)
            $0.buyingOrganizationID = row.int(6)
            $0.owner = row.text(7)
            $0.name = row.text(8)
            $0.amount = .with { m in m.amountMinor = row.int(9); m.currency = row.text(10) }
            $0.expectedCloseDate = row.text(11)
            $0.personID = row.int(12)
            $0.lostReason = row.text(13)
            $0.version = row.int(14)
            $0.createdUnixUs = row.int(15)
            $0.updatedUnixUs = row.int(16)
        }
    }

    static func load(_ db: Database, _ id: Int64) throws -> Crm_B2b_V1_Deal? {
        guard id > 0 else { return nil }
        return try db.query("SELECT \(columns) FROM b2b_deals WHERE id = ?", [.integer(id)]).first.map(decode)
    }

    static func byOpportunity(_ db: Database, _ id: Int64) throws -> Crm_B2b_V1_Deal? {
        guard id > 0 else { return nil }
        return try db.query("SELECT \(columns) FROM b2b_deals WHERE opportunity_id = ?", [.integer(id)]).first.map(decode)
    }

    /// The deal to read: NOT_FOUND if missing or out of `scope` (the same words).
    static func require(_ db: Database, _ id: Int64, field: String = "id", readableIn scope: RecordScope) throws -> Crm_B2b_V1_Deal {
        try Validate.positiveID(id, field)
        guard let deal = try load(db, id), scope.includes(owner: ownerOrNil(deal.owner)) else {
            throw PluginError.notFound("\(field): deal \(id) does not exist")
        }
        return deal
    }

    /// The deal to write: NOT_FOUND if missing, PERMISSION_DENIED out of scope.
    static func require(_ db: Database, _ id: Int64, field: String = "id", writableIn scope: RecordScope) throws -> Crm_B2b_V1_Deal {
        try Validate.positiveID(id, field)
        guard let deal = try load(db, id) else { throw PluginError.notFound("\(field): deal \(id) does not exist") }
        try scope.checkWritable(owner: ownerOrNil(deal.owner), "\(field): deal \(id)")
        return deal
    }

    /// A deal that may still change: FAILED_PRECONDITION once signed or lost.
    static func requireOpen(_ deal: Crm_B2b_V1_Deal) throws {
        guard deal.status == .open else {
            throw PluginError.failedPrecondition("deal \(deal.id) is \(deal.status == .signed ? "signed" : "lost")")
        }
    }

    private static func values(_ d: Crm_B2b_V1_Deal) -> [SQLValue] {
        [.integer(d.opportunityID), .integer(d.pipelineID), .text(d.stage), .integer(Int64(d.status.rawValue)),
         .integer(d.sellingOrganizationID), .integer(d.buyingOrganizationID), .text(d.owner), .text(d.name),
         .integer(d.amount.amountMinor), .text(d.amount.currency), .text(d.expectedCloseDate), .integer(d.personID),
         .text(d.lostReason), .integer(d.version), .integer(d.createdUnixUs), .integer(d.updatedUnixUs)]
    }

    static func insert(_ db: Database, _ d: inout Crm_B2b_V1_Deal) throws {
        d.id = try db.execute("""
            INSERT INTO b2b_deals (opportunity_id, pipeline_id, stage, status, selling_organization_id,
                buying_organization_id, owner, name, amount_minor, currency, expected_close_date, person_id, lost_reason,
                version, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, values(d)).lastInsertID
    }

    static func save(_ db: Database, _ d: Crm_B2b_V1_Deal) throws {
        try db.execute("""
            UPDATE b2b_deals SET opportunity_id = ?, pipeline_id = ?, stage = ?, status = ?, selling_organization_id = ?,
                buying_organization_id = ?, owner = ?, name = ?, amount_minor = ?, currency = ?, expected_close_date = ?,
                person_id = ?, lost_reason = ?, version = ?, created_us = ?, updated_us = ? WHERE id = ?
            """, values(d) + [.integer(d.id)])
    }

    /// The opportunity's version the deal last copied: a sales event of an
    /// older one (the deal's own moves come back as events later) is stale.
    static func seen(_ db: Database, _ deal: Int64, opportunityVersion: Int64) throws {
        try db.execute("UPDATE b2b_deals SET opportunity_version = ? WHERE id = ? AND opportunity_version < ?",
                       [.integer(opportunityVersion), .integer(deal), .integer(opportunityVersion)])
    }

    static func seenVersion(_ db: Database, _ deal: Int64) throws -> Int64 {
        try db.query("SELECT opportunity_version FROM b2b_deals WHERE id = ?", [.integer(deal)]).first?.first?.int ?? 0
    }

    /// The scorecard: every criterion of the pipeline, in its order, scored or not.
    static func scorecard(_ db: Database, _ deal: Crm_B2b_V1_Deal, _ pipeline: Crm_B2b_V1_DealPipeline) throws -> [Crm_B2b_V1_Score] {
        var scored: [String: [SQLValue]] = [:]
        for row in try db.query("SELECT criterion, met, evidence, scored_by, scored_us FROM b2b_deal_scores WHERE deal_id = ?",
                                [.integer(deal.id)]) {
            scored[row.text(0)] = row
        }
        return pipeline.criteria.map { criterion in
            Crm_B2b_V1_Score.with {
                $0.criterion = criterion.key
                $0.name = criterion.name
                if let row = scored[criterion.key] {
                    $0.met = row.int(1) != 0
                    $0.evidence = row.text(2)
                    $0.scoredBy = row.text(3)
                    $0.scoredUnixUs = row.int(4)
                }
            }
        }
    }

    /// The deal as GetDeal answers it, with its scorecard.
    static func full(_ db: Database, _ deal: Crm_B2b_V1_Deal) throws -> Crm_B2b_V1_Deal {
        var out = deal
        if let pipeline = try DealPipelines.load(db, deal.pipelineID) { out.scorecard = try scorecard(db, deal, pipeline) }
        return out
    }

    /// Audit values of a deal, under the .proto field names.
    static func fields(_ d: Crm_B2b_V1_Deal) -> [String: String] {
        func id(_ value: Int64) -> String { value == 0 ? "" : String(value) }
        return [
            "opportunity_id": id(d.opportunityID), "pipeline_id": id(d.pipelineID), "stage": d.stage,
            "status": d.status == .open ? "open" : d.status == .signed ? "signed" : "lost",
            "selling_organization_id": id(d.sellingOrganizationID), "buying_organization_id": id(d.buyingOrganizationID),
            "owner": d.owner, "name": d.name,
            "amount": "\(Format.money(d.amount.amountMinor, d.amount.currency)) \(d.amount.currency)",
            "expected_close_date": d.expectedCloseDate, "person_id": id(d.personID), "lost_reason": d.lostReason,
        ]
    }

    static func audit(_ ctx: CallContext, _ action: String, old: Crm_B2b_V1_Deal?, new: Crm_B2b_V1_Deal,
                      extra: [FieldChange] = []) throws {
        try ctx.audit(AuditEntry(entity: "b2b.deal", recordID: String(new.id), action: action, owner: ownerOrNil(new.owner),
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new)) + extra))
    }
}
