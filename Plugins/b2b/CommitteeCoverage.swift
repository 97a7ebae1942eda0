import B2BContract
import CRMPluginKit

/// What a deal's buying committee lacks, and the deals that lack a role.
/// A member whose organization (as contacts last said) is no longer the
/// deal's buying organization has left it and covers no role.
enum CommitteeCoverage {
    static func check(_ ctx: CallContext, _ req: Crm_B2b_V1_CheckCoverageRequest) throws -> Crm_B2b_V1_Coverage {
        let db = try ctx.database
        let deal = try DealStore.require(db, req.dealID, field: "deal_id", readableIn: ctx.scope)
        let members = try db.query("SELECT \(Committee.columns) FROM b2b_committee WHERE deal_id = ? ORDER BY person_id",
                                   [.integer(deal.id)]).map { Committee.decode($0, buyer: deal.buyingOrganizationID) }
        let present = members.filter { !$0.leftOrganization }
        var gaps: [Crm_B2b_V1_Gap] = []
        for (role, kind) in [(CommitteeRole.economicBuyer, Crm_B2b_V1_GapKind.noEconomicBuyer), (.decisionMaker, .noDecisionMaker),
                             (.champion, .noChampion)] where !present.contains(where: { $0.roles.contains(role) }) {
            gaps.append(.with { $0.kind = kind; $0.role = role; $0.message = "no \(Committee.name(role))" })
        }
        if !present.contains(where: \.primary) {
            gaps.append(.with { $0.kind = .noPrimaryContact; $0.message = "no primary contact" })
        }
        for member in members where member.leftOrganization {
            let role = member.roles.first ?? .unspecified
            gaps.append(.with {
                $0.kind = .leftOrganization
                $0.personID = member.personID
                $0.role = role
                $0.message = "\(Committee.name(role)) \(member.personID) has left the organization"
            })
        }
        return .with {
            $0.dealID = deal.id
            $0.covered = gaps.isEmpty
            $0.gaps = gaps
        }
    }

    /// Open deals by id with no member in `role` still at the buying
    /// organization: the deals index walked in id order, one probe of the
    /// committee's primary key per deal, stopping at a full page.
    static func missingRole(_ ctx: CallContext, _ req: Crm_B2b_V1_ListDealsMissingRoleRequest) throws -> Crm_B2b_V1_ListDealsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        guard Committee.allRoles.contains(req.role) else { throw PluginError.invalidArgument("role is not a committee role") }
        try Validate.optionalID(req.pipelineID, "pipeline_id")
        var filter = SQLFilter()
        filter.add("d.status = 1")
        filter.add("""
            NOT EXISTS (SELECT 1 FROM b2b_committee c WHERE c.deal_id = d.id AND (c.roles & ?) <> 0
                AND c.person_organization_id = d.buying_organization_id)
            """, .integer(Committee.bit(req.role)))
        if req.pipelineID != 0 { filter.add("d.pipeline_id = ?", .integer(req.pipelineID)) }
        ctx.scope.apply(to: &filter, ownerColumn: "d.owner")
        if let after = paging.after { filter.add("d.id > ?", after[0]) }
        let columns = DealStore.columns.split(separator: ",").map { "d." + $0.trimmedSpacesAndNewlines }.joined(separator: ", ")
        let page = try fetchPage(try ctx.database, "SELECT \(columns) FROM b2b_deals d \(filter.clause) ORDER BY d.id LIMIT ?",
                                 filter.parameters, paging, decode: DealStore.decode, key: { [$0[0]] })
        return .with {
            $0.deals = page.rows
            $0.nextPageToken = page.nextToken
        }
    }
}
