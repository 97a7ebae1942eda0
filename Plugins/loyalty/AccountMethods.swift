import CRMPluginKit
import LoyaltyContract
import ContactsLinkKit

/// Customer accounts and reading the ledger: open an account, get one,
/// list them, list an account's entries, get a posting.
enum AccountMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Loyalty.service + "CreateAccount", create)
        def.unary(Loyalty.service + "GetAccount", get)
        def.unary(Loyalty.service + "ListAccounts", list)
        def.unary(Loyalty.service + "ListEntries", entries)
        def.unary(Loyalty.service + "GetPosting", posting)
    }

    static func create(_ ctx: CallContext, _ req: Crm_Loyalty_V1_CreateAccountRequest) throws -> Account {
        let unit: String
        switch req.kind {
        case .points:
            guard req.currency.isEmpty else { throw PluginError.invalidArgument("currency must be empty for a POINTS account") }
            unit = Ledger.pointsUnit
        case .houseAccount:
            try Validate.currency(req.currency, "currency")
            unit = req.currency
            // A person's, an organization's, or a group's (named by its label).
            guard req.personID == 0 || req.organizationID == 0 else {
                throw PluginError.invalidArgument("a house account is for a person_id or an organization_id, not both")
            }
        default: throw PluginError.invalidArgument("kind must be POINTS or HOUSE_ACCOUNT (gift cards: IssueGiftCards)")
        }
        try Validate.optionalID(req.personID, "person_id")
        try Validate.optionalID(req.organizationID, "organization_id")
        let label = try Check.text(req.label, "label")
        if req.kind == .houseAccount, req.personID == 0, req.organizationID == 0, label.isEmpty {
            throw PluginError.invalidArgument("label is required for a group house account (no person_id or organization_id)")
        }
        if !req.idempotencyKey.isEmpty {
            return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in try insert(ctx, db, req, unit, label) }
        }
        return try insert(ctx, try ctx.database, req, unit, label)
    }

    private static func insert(_ ctx: CallContext, _ db: Database, _ req: Crm_Loyalty_V1_CreateAccountRequest,
                               _ unit: String, _ label: String) throws -> Account {
        if req.personID != 0, try ContactsLink.livePerson(ctx, req.personID) == nil {
            throw PluginError.notFound("no person \(req.personID) (person_id)")
        }
        if req.organizationID != 0, try ContactsLink.organization(ctx, req.organizationID) == nil {
            throw PluginError.notFound("no organization \(req.organizationID) (organization_id)")
        }
        if req.kind == .points, req.personID != 0,
           let existing = try db.query("SELECT id FROM loyalty_accounts WHERE kind = 1 AND person_id = ?",
                                       [.integer(req.personID)]).first?.int(0) {
            throw PluginError.alreadyExists("person \(req.personID) already has points account \(existing)")
        }
        let owner = try ctx.scope.owner(for: req.owner.trimmedSpaces, "account")
        let now = UTCClock.nowMicros()
        let id = try db.execute("""
            INSERT INTO loyalty_accounts (kind, unit, person_id, organization_id, owner, label, status, created_us, updated_us)
            VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
            """, [.integer(Int64(req.kind.rawValue)), .text(unit), Ledger.nullable(req.personID), Ledger.nullable(req.organizationID),
                  .text(owner), .text(label), .integer(now), .integer(now)]).lastInsertID
        let account = try LedgerStore.loadAccount(db, id)!
        try ctx.audit(AuditEntry(entity: "loyalty.account", recordID: String(id), action: "create", owner: ownerOrNil(owner), changes: [
            FieldChange("kind", old: nil, new: req.kind == .points ? "POINTS" : "HOUSE_ACCOUNT"),
            FieldChange("unit", old: nil, new: unit),
            FieldChange("person_id", old: nil, new: String(req.personID)),
            FieldChange("organization_id", old: nil, new: String(req.organizationID)),
            FieldChange("label", old: nil, new: label),
        ]))
        try LoyaltyEvents.publish(ctx, "loyalty.account.created", account: account,
                                  summary: req.kind == .points ? "Joined the loyalty programme" : "House account opened")
        return account
    }

    static func get(_ ctx: CallContext, _ req: Crm_Loyalty_V1_GetAccountRequest) throws -> Account {
        try Check.id(req.id, "id")
        let db = try ctx.database
        return try LedgerStore.withLiveHolds(db, try Ledger.customerAccount(ctx, db, req.id, field: "id", write: false))
    }

    static func list(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ListAccountsRequest) throws -> Crm_Loyalty_V1_ListAccountsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        try Validate.optionalID(req.personID, "person_id")
        var filter = SQLFilter()
        filter.add("kind <> 100", [])
        if req.personID != 0 { filter.add("person_id = ?", [.integer(req.personID)]) }
        switch req.kind {
        case .unspecified: break
        case .points, .giftCard, .houseAccount: filter.add("kind = ?", [.integer(Int64(req.kind.rawValue))])
        default: throw PluginError.invalidArgument("kind must be a customer account kind")
        }
        ctx.scope.apply(to: &filter, ownerColumn: "owner")
        if let after = paging.after { filter.add("id > ?", after) }
        let db = try ctx.database
        let page = try fetchPage(db, "SELECT \(LedgerStore.accountColumns) FROM loyalty_accounts \(filter.clause) ORDER BY id LIMIT ?",
                                 filter.parameters, paging, decode: { try LedgerStore.withLiveHolds(db, LedgerStore.account($0)) },
                                 key: { [$0[0]] })
        return .with { $0.accounts = page.rows; $0.nextPageToken = page.nextToken }
    }

    static func entries(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ListEntriesRequest) throws -> Crm_Loyalty_V1_ListEntriesResponse {
        try Check.id(req.accountID, "account_id")
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        let db = try ctx.database
        _ = try Ledger.customerAccount(ctx, db, req.accountID, write: false)
        var parameters: [SQLValue] = [.integer(req.accountID)]
        var after = ""
        if let token = paging.after { after = "AND (created_us, id) < (?, ?)"; parameters += token }
        // The account index orders by time, which is the ledger's order
        // (posting times never go back).
        let page = try fetchPage(db, """
            SELECT \(LedgerStore.entryColumns) FROM loyalty_entries WHERE account_id = ? \(after)
            ORDER BY created_us DESC, id DESC LIMIT ?
            """, parameters, paging, decode: LedgerStore.entry, key: { [$0[6], $0[0]] })
        return .with { $0.entries = page.rows; $0.nextPageToken = page.nextToken }
    }

    static func posting(_ ctx: CallContext, _ req: Crm_Loyalty_V1_GetPostingRequest) throws -> Posting {
        try Check.id(req.id, "id")
        let db = try ctx.database
        guard let posting = try LedgerStore.loadPosting(db, req.id), try inScope(ctx, db, posting) else {
            throw PluginError.notFound("no posting \(req.id) (id)")
        }
        return posting
    }

    /// A posting is in scope when one of its customer accounts is.
    static func inScope(_ ctx: CallContext, _ db: Database, _ posting: Posting) throws -> Bool {
        let scope = ctx.scope
        if scope.reach == .all { return true }
        for entry in posting.entries {
            if let account = try LedgerStore.loadAccount(db, entry.accountID), account.kind != .system,
               scope.includes(owner: ownerOrNil(account.owner)) { return true }
        }
        return false
    }
}
