import B2BContract
import CRMPluginKit
import ContactsContract

typealias CommitteeRole = Crm_B2b_V1_CommitteeRole

/// A deal's buying committee: one seat per person, with their roles (a bit
/// set, so "deals without a champion" is one NOT EXISTS probe per deal),
/// influence, stance and whether they are the primary contact (one per
/// deal, a partial unique index). Each seat keeps the person's organization
/// as contacts last said, followed on its events, for the coverage check.
enum Committee {
    static let schema = """
        CREATE TABLE b2b_committee (
            deal_id INTEGER NOT NULL REFERENCES b2b_deals (id),
            person_id INTEGER NOT NULL,
            roles INTEGER NOT NULL,
            influence INTEGER NOT NULL,
            stance INTEGER NOT NULL,
            is_primary INTEGER NOT NULL,
            person_organization_id INTEGER NOT NULL,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL,
            PRIMARY KEY (deal_id, person_id));
        CREATE INDEX b2b_committee_by_person ON b2b_committee (person_id);
        CREATE UNIQUE INDEX b2b_committee_primary ON b2b_committee (deal_id) WHERE is_primary = 1;
        """
    static let entity = "b2b.committee"
    static let maxSeats = 50
    static func recordID(_ deal: Int64, _ person: Int64) -> String { "\(deal):\(person)" }

    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "SetCommitteeMember", set)
        def.unary(B2B.service + "RemoveCommitteeMember", remove)
        def.unary(B2B.service + "ListCommittee", list)
        def.unary(B2B.service + "CheckCoverage", CommitteeCoverage.check)
        def.unary(B2B.service + "ListDealsMissingRole", CommitteeCoverage.missingRole)
    }

    static let allRoles: [CommitteeRole] = [.decisionMaker, .economicBuyer, .champion, .influencer, .technicalEvaluator,
                                            .legal, .procurement, .blocker, .user]

    static func bit(_ role: CommitteeRole) -> Int64 { Int64(1) << Int64(role.rawValue) }

    static func roles(_ bits: Int64) -> [CommitteeRole] { allRoles.filter { bits & bit($0) != 0 } }

    static func name(_ role: CommitteeRole) -> String {
        switch role {
        case .decisionMaker: return "decision maker"
        case .economicBuyer: return "economic buyer"
        case .champion: return "champion"
        case .influencer: return "influencer"
        case .technicalEvaluator: return "technical evaluator"
        case .legal: return "legal"
        case .procurement: return "procurement"
        case .blocker: return "blocker"
        case .user: return "user"
        default: return "member"
        }
    }

    static let columns = """
        deal_id, person_id, roles, influence, stance, is_primary, person_organization_id, created_us, updated_us
        """

    static func decode(_ row: [SQLValue], buyer: Int64) -> Crm_B2b_V1_CommitteeMember {
        .with {
            $0.dealID = row.int(0)
            $0.personID = row.int(1)
            $0.roles = roles(row.int(2))
            $0.influence = Crm_B2b_V1_Influence(rawValue: Int(truncatingIfNeeded: row.int(3))) ?? .unspecified
            $0.stance = Crm_B2b_V1_Stance(rawValue: Int(truncatingIfNeeded: row.int(4))) ?? .unspecified
            $0.primary = row.int(5) != 0
            $0.personOrganizationID = row.int(6)
            $0.leftOrganization = row.int(6) != buyer
            $0.createdUnixUs = row.int(7)
            $0.updatedUnixUs = row.int(8)
        }
    }

    static func seat(_ db: Database, _ deal: Crm_B2b_V1_Deal, _ person: Int64) throws -> Crm_B2b_V1_CommitteeMember? {
        try db.query("SELECT \(columns) FROM b2b_committee WHERE deal_id = ? AND person_id = ?",
                     [.integer(deal.id), .integer(person)]).first.map { decode($0, buyer: deal.buyingOrganizationID) }
    }

    static func fields(_ m: Crm_B2b_V1_CommitteeMember?) -> [String: String] {
        guard let m else { return [:] }
        return ["person_id": String(m.personID), "roles": m.roles.map(name).joined(separator: ", "),
                "influence": "\(m.influence)", "stance": "\(m.stance)", "primary": m.primary ? "yes" : "no",
                "person_organization_id": String(m.personOrganizationID)]
    }

    static func audit(_ ctx: CallContext, _ action: String, deal: Crm_B2b_V1_Deal, person: Int64,
                      old: Crm_B2b_V1_CommitteeMember?, new: Crm_B2b_V1_CommitteeMember?) throws {
        try ctx.audit(AuditEntry(entity: entity, recordID: recordID(deal.id, person), action: action, owner: ownerOrNil(deal.owner),
                                 changes: FieldChange.between(old: fields(old), new: fields(new))))
    }

    static func set(_ ctx: CallContext, _ req: Crm_B2b_V1_SetCommitteeMemberRequest) throws -> Crm_B2b_V1_CommitteeMember {
        let db = try ctx.database
        let deal = try DealStore.require(db, req.dealID, field: "deal_id", writableIn: ctx.scope)
        try Validate.positiveID(req.personID, "person_id")
        guard !req.roles.isEmpty else { throw PluginError.invalidArgument("roles: at least one role is required") }
        var bits: Int64 = 0
        for (i, role) in req.roles.enumerated() {
            guard allRoles.contains(role) else { throw PluginError.invalidArgument("roles[\(i)] is not a committee role") }
            guard bits & bit(role) == 0 else { throw PluginError.invalidArgument("roles[\(i)] \(name(role)) is repeated") }
            bits |= bit(role)
        }
        guard [.low, .medium, .high].contains(req.influence) else {
            throw PluginError.invalidArgument("influence must be LOW, MEDIUM or HIGH")
        }
        guard [.unknown, .supporter, .neutral, .opponent].contains(req.stance) else {
            throw PluginError.invalidArgument("stance must be UNKNOWN, SUPPORTER, NEUTRAL or OPPONENT")
        }
        try DealStore.requireOpen(deal)
        let person = try Links.requireLivePerson(ctx, req.personID, field: "person_id")
        let old = try seat(db, deal, req.personID)
        if old == nil {
            let count = try db.query("SELECT COUNT(*) FROM b2b_committee WHERE deal_id = ?", [.integer(deal.id)]).first?.int(0) ?? 0
            guard count < Int64(maxSeats) else {
                throw PluginError.failedPrecondition("deal \(deal.id) has \(maxSeats) committee seats, the most it may have")
            }
        }
        if let old, old.roles == roles(bits), old.influence == req.influence, old.stance == req.stance,
           old.primary == req.primary, old.personOrganizationID == person.organizationID {
            return old
        }
        let now = UTCClock.nowMicros()
        if req.primary {
            try db.execute("UPDATE b2b_committee SET is_primary = 0, updated_us = ? WHERE deal_id = ? AND is_primary = 1 AND person_id <> ?",
                           [.integer(now), .integer(deal.id), .integer(req.personID)])
        }
        try db.execute("""
            INSERT INTO b2b_committee (\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (deal_id, person_id) DO UPDATE SET roles = excluded.roles, influence = excluded.influence,
                stance = excluded.stance, is_primary = excluded.is_primary,
                person_organization_id = excluded.person_organization_id, updated_us = excluded.updated_us
            """, [.integer(deal.id), .integer(req.personID), .integer(bits), .integer(Int64(req.influence.rawValue)),
                  .integer(Int64(req.stance.rawValue)), .integer(req.primary ? 1 : 0), .integer(person.organizationID),
                  .integer(now), .integer(now)])
        guard let member = try seat(db, deal, req.personID) else { throw PluginError(.internal, "the seat was not stored") }
        try audit(ctx, old == nil ? "seat" : "update", deal: deal, person: req.personID, old: old, new: member)
        try DealEvents.seat(ctx, "seated", member, deal: deal, "Deal \(deal.id): person \(req.personID) on the buying committee as "
            + member.roles.map(name).joined(separator: ", "))
        return member
    }

    static func remove(_ ctx: CallContext, _ req: Crm_B2b_V1_RemoveCommitteeMemberRequest) throws -> Crm_B2b_V1_Deal {
        let db = try ctx.database
        let deal = try DealStore.require(db, req.dealID, field: "deal_id", writableIn: ctx.scope)
        try Validate.positiveID(req.personID, "person_id")
        guard let old = try seat(db, deal, req.personID) else {
            throw PluginError.notFound("person_id: person \(req.personID) has no seat on deal \(deal.id)")
        }
        try db.execute("DELETE FROM b2b_committee WHERE deal_id = ? AND person_id = ?", [.integer(deal.id), .integer(req.personID)])
        try audit(ctx, "remove", deal: deal, person: req.personID, old: old, new: nil)
        try DealEvents.seat(ctx, "removed", old, deal: deal, "Deal \(deal.id): person \(req.personID) left the buying committee")
        return try DealStore.full(db, deal)
    }

    static func list(_ ctx: CallContext, _ req: Crm_B2b_V1_ListCommitteeRequest) throws -> Crm_B2b_V1_ListCommitteeResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let db = try ctx.database
        let deal = try DealStore.require(db, req.dealID, field: "deal_id", readableIn: ctx.scope)
        var filter = SQLFilter()
        filter.add("deal_id = ?", .integer(deal.id))
        if let after = paging.after { filter.add("person_id > ?", after[0]) }
        let page = try fetchPage(db, "SELECT \(columns) FROM b2b_committee \(filter.clause) ORDER BY person_id LIMIT ?",
                                 filter.parameters, paging, decode: { decode($0, buyer: deal.buyingOrganizationID) },
                                 key: { [$0[1]] })
        return .with {
            $0.members = page.rows
            $0.nextPageToken = page.nextToken
        }
    }
}
