import B2BContract
import CRMPluginKit
import SwiftProtobuf

/// Contracts: one row each with its current terms in columns (the renewal
/// job reads the due ones from an index on (status, renewal_opportunity_id,
/// end_us); the report ranges over end_us), and every version of its terms,
/// which never change once written (triggers refuse it).
enum ContractStore {
    static let schema = """
        CREATE TABLE b2b_contracts (
            id INTEGER PRIMARY KEY,
            opportunity_id INTEGER NOT NULL,
            sales_pipeline_id INTEGER NOT NULL,
            quote_id INTEGER NOT NULL,
            quote_revision INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            envelope_id INTEGER NOT NULL UNIQUE,
            organization_id INTEGER NOT NULL,
            person_id INTEGER NOT NULL,
            owner TEXT NOT NULL,
            name TEXT NOT NULL,
            terms_version INTEGER NOT NULL,
            start_us INTEGER NOT NULL,
            end_us INTEGER NOT NULL,
            value_minor INTEGER NOT NULL,
            currency TEXT NOT NULL,
            billing_period INTEGER NOT NULL,
            auto_renew INTEGER NOT NULL,
            notice_days INTEGER NOT NULL,
            uplift_bp INTEGER NOT NULL,
            status INTEGER NOT NULL,
            renewal_opportunity_id INTEGER NOT NULL,
            renewal_amount_minor INTEGER NOT NULL,
            renewal_created_us INTEGER NOT NULL,
            renewal_of_contract_id INTEGER NOT NULL,
            churn_reason TEXT NOT NULL,
            outcome_us INTEGER NOT NULL,
            version INTEGER NOT NULL,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL);
        CREATE INDEX b2b_contracts_renewal_due ON b2b_contracts (status, renewal_opportunity_id, end_us);
        CREATE INDEX b2b_contracts_by_end ON b2b_contracts (end_us, id);
        CREATE INDEX b2b_contracts_by_renewal ON b2b_contracts (renewal_opportunity_id);
        CREATE INDEX b2b_contracts_by_owner ON b2b_contracts (owner, id);
        CREATE INDEX b2b_contracts_by_organization ON b2b_contracts (organization_id, id);
        CREATE INDEX b2b_contracts_by_person ON b2b_contracts (person_id);
        CREATE INDEX b2b_contracts_by_opportunity ON b2b_contracts (opportunity_id);
        CREATE TABLE b2b_contract_versions (
            contract_id INTEGER NOT NULL REFERENCES b2b_contracts (id),
            terms_version INTEGER NOT NULL,
            terms BLOB NOT NULL,
            reason TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            PRIMARY KEY (contract_id, terms_version));
        CREATE TRIGGER b2b_contract_version_update BEFORE UPDATE ON b2b_contract_versions
        BEGIN SELECT RAISE(ABORT, 'a contract version never changes'); END;
        CREATE TRIGGER b2b_contract_version_delete BEFORE DELETE ON b2b_contract_versions
        BEGIN SELECT RAISE(ABORT, 'a contract version never changes'); END;
        """

    static let entity = "b2b.contract"

    /// A contract and what only b2b keeps of it (the sales pipeline its renewal goes to).
    struct Row {
        var contract = Contract()
        var salesPipelineID: Int64 = 0
    }

    static let columns = """
        id, opportunity_id, sales_pipeline_id, quote_id, quote_revision, content_hash, envelope_id, organization_id,
        person_id, owner, name, terms_version, start_us, end_us, value_minor, currency, billing_period, auto_renew,
        notice_days, uplift_bp, status, renewal_opportunity_id, renewal_amount_minor, renewal_created_us,
        renewal_of_contract_id, churn_reason, outcome_us, version, created_us, updated_us, notice_given_us, notice_reason,
        auto_renewals
        """

    /// Migration 8: notice and auto-renewal. The job reads the contracts
    /// due to renew by themselves from an index, as it does the renewals due.
    static let noticeSchema = """
        ALTER TABLE b2b_contracts ADD COLUMN notice_given_us INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE b2b_contracts ADD COLUMN notice_reason TEXT NOT NULL DEFAULT '';
        ALTER TABLE b2b_contracts ADD COLUMN auto_renewals INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX b2b_contracts_auto_renew_due ON b2b_contracts (status, auto_renew, notice_given_us, end_us);
        """

    /// Every column but id, in `values` order.
    static let writable: [String] = columns.split(separator: ",").dropFirst().map { String($0).trimmedSpacesAndNewlines }

    static func decode(_ row: [SQLValue]) -> Row {
        var c = Contract()
        c.id = row.int(0)
        c.opportunityID = row.int(1)
        c.quoteID = row.int(3)
        c.quoteRevision = row.int32(4)
        c.contentHash = row.text(5)
        c.envelopeID = row.int(6)
        c.organizationID = row.int(7)
        c.personID = row.int(8)
        c.owner = row.text(9)
        c.name = row.text(10)
        c.termsVersion = row.int32(11)
        c.terms = .with {
            $0.startUnixUs = row.int(12)
            $0.endUnixUs = row.int(13)
            $0.value = .with { m in m.amountMinor = row.int(14); m.currency = row.text(15) }
            $0.billingPeriod = Crm_B2b_V1_BillingPeriod(rawValue: Int(truncatingIfNeeded: row.int(16))) ?? .unspecified
            $0.autoRenew = row.int(17) != 0
            $0.noticeDays = row.int32(18)
            $0.upliftBp = row.int32(19)
        }
        c.status = Crm_B2b_V1_ContractStatus(rawValue: Int(truncatingIfNeeded: row.int(20))) ?? .unspecified
        c.renewalOpportunityID = row.int(21)
        if c.renewalOpportunityID != 0 {
            c.renewalAmount = .with { $0.amountMinor = row.int(22); $0.currency = row.text(15) }
        }
        c.renewalCreatedUnixUs = row.int(23)
        c.renewalOfContractID = row.int(24)
        c.churnReason = row.text(25)
        c.outcomeUnixUs = row.int(26)
        c.version = row.int(27)
        c.createdUnixUs = row.int(28)
        c.updatedUnixUs = row.int(29)
        c.noticeGivenUnixUs = row.int(30)
        c.noticeReason = row.text(31)
        c.autoRenewals = row.int32(32)
        return Row(contract: c, salesPipelineID: row.int(2))
    }

    private static func values(_ r: Row) -> [SQLValue] {
        let c = r.contract, t = c.terms
        return [.integer(c.opportunityID), .integer(r.salesPipelineID), .integer(c.quoteID), .integer(Int64(c.quoteRevision)),
                .text(c.contentHash), .integer(c.envelopeID), .integer(c.organizationID), .integer(c.personID), .text(c.owner),
                .text(c.name), .integer(Int64(c.termsVersion)), .integer(t.startUnixUs), .integer(t.endUnixUs),
                .integer(t.value.amountMinor), .text(t.value.currency), .integer(Int64(t.billingPeriod.rawValue)),
                .integer(t.autoRenew ? 1 : 0), .integer(Int64(t.noticeDays)), .integer(Int64(t.upliftBp)),
                .integer(Int64(c.status.rawValue)), .integer(c.renewalOpportunityID), .integer(c.renewalAmount.amountMinor),
                .integer(c.renewalCreatedUnixUs), .integer(c.renewalOfContractID), .text(c.churnReason),
                .integer(c.outcomeUnixUs), .integer(c.version), .integer(c.createdUnixUs), .integer(c.updatedUnixUs),
                .integer(c.noticeGivenUnixUs), .text(c.noticeReason), .integer(Int64(c.autoRenewals))]
    }

    static func insert(_ db: Database, _ r: inout Row) throws {
        let names = writable.joined(separator: ", ")
        let marks = Array(repeating: "?", count: writable.count).joined(separator: ", ")
        r.contract.id = try db.execute("INSERT INTO b2b_contracts (\(names)) VALUES (\(marks))", values(r)).lastInsertID
    }

    static func save(_ db: Database, _ r: Row) throws {
        let assignments = writable.map { "\($0) = ?" }
        try db.execute("UPDATE b2b_contracts SET \(assignments.joined(separator: ", ")) WHERE id = ?",
                       values(r) + [.integer(r.contract.id)])
    }

    static func load(_ db: Database, _ id: Int64) throws -> Row? {
        guard id > 0 else { return nil }
        return try db.query("SELECT \(columns) FROM b2b_contracts WHERE id = ?", [.integer(id)]).first.map(decode)
    }

    static func byRenewalOpportunity(_ db: Database, _ opportunity: Int64) throws -> Row? {
        guard opportunity > 0 else { return nil }
        return try db.query("SELECT \(columns) FROM b2b_contracts WHERE renewal_opportunity_id = ? ORDER BY id LIMIT 1",
                            [.integer(opportunity)]).first.map(decode)
    }

    /// A contract write's idempotency key: the contract its first call
    /// answered (a key whose contract left the caller's scope is refused as
    /// a mismatch), or the claim to record once the write is done.
    static func replay<Request: Message>(_ db: Database, _ method: String, _ req: Request, key: WritableKeyPath<Request, String>,
                                         scope: RecordScope) throws -> (Contract?, IdempotencyKeys.Claim?) {
        let (previous, claim) = try B2B.idempotency.check(db, method: method, req, key: key)
        guard let id = previous else { return (nil, claim) }
        guard let row = try load(db, id), scope.includes(owner: ownerOrNil(row.contract.owner)) else {
            throw IdempotencyKeys.mismatch(method: method, key: req[keyPath: key])
        }
        return (row.contract, nil)
    }

    /// The contract to read: NOT_FOUND if missing or out of `scope` (the same words).
    static func require(_ db: Database, _ id: Int64, field: String = "id", readableIn scope: RecordScope) throws -> Row {
        try Validate.positiveID(id, field)
        guard let r = try load(db, id), scope.includes(owner: ownerOrNil(r.contract.owner)) else {
            throw PluginError.notFound("\(field): contract \(id) does not exist")
        }
        return r
    }

    /// The contract to write: NOT_FOUND if missing, PERMISSION_DENIED out of scope.
    static func require(_ db: Database, _ id: Int64, field: String = "id", writableIn scope: RecordScope) throws -> Row {
        try Validate.positiveID(id, field)
        guard let r = try load(db, id) else { throw PluginError.notFound("\(field): contract \(id) does not exist") }
        try scope.checkWritable(owner: ownerOrNil(r.contract.owner), "\(field): contract \(id)")
        return r
    }

    /// Version `n` of the terms, as signed or amended.
    static func insertVersion(_ db: Database, _ c: Contract, reason: String, by user: String, at now: Int64) throws {
        try db.execute("""
            INSERT INTO b2b_contract_versions (contract_id, terms_version, terms, reason, created_by, created_us)
            VALUES (?, ?, ?, ?, ?, ?)
            """, [.integer(c.id), .integer(Int64(c.termsVersion)), .blob(try c.terms.serializedBytes()), .text(reason),
                  .text(user), .integer(now)])
    }

    static func statusName(_ s: Crm_B2b_V1_ContractStatus) -> String {
        switch s {
        case .active: return "active"
        case .renewed: return "renewed"
        case .churned: return "churned"
        default: return ""
        }
    }

    /// Audit values of a contract, under the .proto field names.
    static func fields(_ c: Contract) -> [String: String] {
        func id(_ value: Int64) -> String { value == 0 ? "" : String(value) }
        return [
            "opportunity_id": id(c.opportunityID), "quote_id": id(c.quoteID), "quote_revision": String(c.quoteRevision),
            "content_hash": c.contentHash, "envelope_id": id(c.envelopeID), "organization_id": id(c.organizationID),
            "person_id": id(c.personID), "owner": c.owner, "name": c.name, "terms_version": String(c.termsVersion),
            "status": statusName(c.status), "renewal_opportunity_id": id(c.renewalOpportunityID),
            "renewal_amount": c.renewalOpportunityID == 0 ? ""
                : "\(Format.money(c.renewalAmount.amountMinor, c.renewalAmount.currency)) \(c.renewalAmount.currency)",
            "renewal_of_contract_id": id(c.renewalOfContractID), "churn_reason": c.churnReason,
            "notice_reason": c.noticeReason, "auto_renewals": c.autoRenewals == 0 ? "" : String(c.autoRenewals),
        ].merging(ContractTermsCheck.fields(c.terms)) { a, _ in a }
    }

    static func audit(_ ctx: CallContext, _ action: String, old: Contract?, new: Contract) throws {
        try ctx.audit(AuditEntry(entity: entity, recordID: String(new.id), action: action, owner: ownerOrNil(new.owner),
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }
}
