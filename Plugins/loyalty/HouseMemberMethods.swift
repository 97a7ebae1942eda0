import CRMPluginKit
import ContactsLinkKit
import LoyaltyContract

/// Who may charge a house account besides its holder, and how much each
/// may charge a month. Set and remove are idempotent by nature: doing
/// again what is done records nothing.
enum HouseMemberMethods {
    static func register(on def: PluginDefinition) {
        def.unary(HouseAccounts.service + "SetHouseMember", set)
        def.unary(HouseAccounts.service + "RemoveHouseMember", remove)
        def.unary(HouseAccounts.service + "ListHouseMembers", list)
    }

    static func set(_ ctx: CallContext, _ req: Crm_Loyalty_V1_SetHouseMemberRequest) throws -> HouseMember {
        try Check.id(req.accountID, "account_id")
        try Check.id(req.personID, "person_id")
        guard req.monthlyLimit >= 0, req.monthlyLimit <= Check.maxAmount else {
            throw PluginError.invalidArgument("monthly_limit must be 0 to \(Check.maxAmount), got \(req.monthlyLimit)")
        }
        let db = try ctx.database
        let account = try HouseAccounts.require(ctx, db, req.accountID, write: true)
        guard req.personID != account.personID else {
            throw PluginError.failedPrecondition("person \(req.personID) holds house account \(account.id) and needs no membership")
        }
        guard try ContactsLink.livePerson(ctx, req.personID) != nil else {
            throw PluginError.notFound("no person \(req.personID) (person_id)")
        }
        let before = try HouseAccounts.loadMember(db, account: account.id, person: req.personID)
        if let before, before.active, before.monthlyLimit == req.monthlyLimit { return before }
        let now = UTCClock.nowMicros()
        try db.execute("""
            INSERT INTO loyalty_house_members (account_id, person_id, monthly_limit, active, created_us, updated_us)
            VALUES (?, ?, ?, 1, ?, ?)
            ON CONFLICT (account_id, person_id) DO UPDATE SET monthly_limit = excluded.monthly_limit, active = 1,
                updated_us = excluded.updated_us
            """, [.integer(account.id), .integer(req.personID), .integer(req.monthlyLimit), .integer(now), .integer(now)])
        let member = try HouseAccounts.loadMember(db, account: account.id, person: req.personID)!
        try ctx.audit(AuditEntry(entity: "loyalty.house_member", recordID: "\(account.id):\(req.personID)",
                                 action: before == nil ? "create" : "update", owner: ownerOrNil(account.owner), changes: [
            FieldChange("monthly_limit", old: before.map { String($0.monthlyLimit) }, new: String(req.monthlyLimit)),
            FieldChange("active", old: before.map { String($0.active) }, new: "true"),
        ]))
        try HouseEvents.publish(ctx, "loyalty.house_account.member_set", account: account, member: member,
                                summary: req.monthlyLimit == 0 ? "May charge the house account"
                                    : "May charge the house account up to \(LoyaltyEvents.amount(req.monthlyLimit, account.unit)) a month")
        return member
    }

    static func remove(_ ctx: CallContext, _ req: Crm_Loyalty_V1_RemoveHouseMemberRequest) throws -> HouseMember {
        try Check.id(req.accountID, "account_id")
        try Check.id(req.personID, "person_id")
        let db = try ctx.database
        let account = try HouseAccounts.require(ctx, db, req.accountID, write: true)
        guard let before = try HouseAccounts.loadMember(db, account: account.id, person: req.personID) else {
            throw PluginError.notFound("person \(req.personID) is not a member of house account \(account.id) (person_id)")
        }
        guard before.active else { return before }
        try db.execute("UPDATE loyalty_house_members SET active = 0, updated_us = ? WHERE account_id = ? AND person_id = ?",
                       [.integer(UTCClock.nowMicros()), .integer(account.id), .integer(req.personID)])
        let member = try HouseAccounts.loadMember(db, account: account.id, person: req.personID)!
        try ctx.audit(AuditEntry(entity: "loyalty.house_member", recordID: "\(account.id):\(req.personID)", action: "remove",
                                 owner: ownerOrNil(account.owner), changes: [FieldChange("active", old: "true", new: "false")]))
        try HouseEvents.publish(ctx, "loyalty.house_account.member_removed", account: account, member: member,
                                summary: "No longer charges the house account")
        return member
    }

    static func list(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ListHouseMembersRequest) throws -> Crm_Loyalty_V1_ListHouseMembersResponse {
        try Check.id(req.accountID, "account_id")
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let db = try ctx.database
        let account = try HouseAccounts.require(ctx, db, req.accountID, write: false)
        var filter = SQLFilter()
        filter.add("account_id = ?", [.integer(account.id)])
        if !req.includeRemoved { filter.add("active = 1", []) }
        if let after = paging.after { filter.add("person_id > ?", after) }
        let since = HouseAccounts.monthStart(UTCClock.nowMicros())
        let page = try fetchPage(db, """
            SELECT \(HouseAccounts.memberColumns) FROM loyalty_house_members \(filter.clause) ORDER BY person_id LIMIT ?
            """, filter.parameters, paging, decode: { row in
                var m = HouseAccounts.member(row)
                m.spentThisMonth = try HouseAccounts.spent(db, account: account.id, person: m.personID, since: since)
                return m
            }, key: { [$0[1]] })
        return .with { $0.members = page.rows; $0.nextPageToken = page.nextToken }
    }
}
