import CRMPluginKit
import ServiceContract

/// Queue views: ListTickets by team, assignee, status, priority, in
/// priority-then-age order (urgency, id), keyset paginated. Each filter set
/// of team / assignee / unassigned with a view (bucket) and a priority is
/// an equality prefix of one index whose next columns are (urgency, id),
/// so a page is a range scan that stops after page_size + 1 rows:
///
/// | filters | index |
/// |---|---|
/// | team (+ view, + priority) | service_tickets_queue_team (team, bucket, urgency, id, assignee) |
/// | team + assignee or unassigned | service_tickets_queue_team_assignee (team, assignee, bucket, urgency, id) |
/// | assignee / assigned_to_me / unassigned | service_tickets_queue_assignee (assignee, bucket, urgency, id, team) |
/// | view only | service_tickets_queue_all (bucket, urgency, id, assignee, team) |
/// | status | service_tickets_by_status (status, urgency, id, assignee, team) |
///
/// The trailing assignee and team columns let the scope condition be
/// decided from the index entry. QUEUE_ORDER_SLA_DUE reads the sibling
/// indexes with sla_rank (the due time; none last) in place of urgency:
/// service_tickets_sla_team (team, bucket, sla_rank, id, assignee) and so
/// on; a priority or status filter is then checked on the rows read.
enum Queues {
    typealias View = Crm_Service_V1_QueueView

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "ListTickets", list)
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListTicketsRequest) throws -> Crm_Service_V1_ListTicketsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        try Check.known(req.view.rawValue, 1...4, "view", optional: true)
        try Check.known(req.status.rawValue, 1...6, "status", optional: true)
        try Check.known(req.priority.rawValue, 1...4, "priority", optional: true)
        try Check.known(req.order.rawValue, 1...2, "order", optional: true)
        try Validate.optionalID(req.requesterID, "requester_id")
        try Validate.optionalID(req.organizationID, "organization_id")
        try Check.name(req.team, "team")
        try Check.name(req.assignee, "assignee")
        let setAssignee = [!req.assignee.isEmpty, req.assignedToMe, req.unassigned].filter { $0 }.count
        guard setAssignee <= 1 else {
            throw PluginError.invalidArgument("assignee, assigned_to_me and unassigned exclude one another")
        }
        var filter = SQLFilter()
        if !req.team.isEmpty { filter.add("team = ?", .text(req.team)) }
        if !req.assignee.isEmpty { filter.add("assignee = ?", .text(req.assignee)) }
        if req.assignedToMe {
            guard let user = ctx.user else { throw PluginError.invalidArgument("assigned_to_me: the caller is no CRM user") }
            filter.add("assignee = ?", .text(user))
        }
        if req.unassigned { filter.add("assignee = ''") }
        let view = req.view == .unspecified ? View.unsolved : req.view
        if req.status != .unspecified {
            let bucket = TicketStore.bucket(req.status)
            if req.view != .unspecified && view != .any && Int64(view.rawValue) != bucket {
                throw PluginError.invalidArgument("status \(ServiceEvents.protoName(req.status)) is not in view QUEUE_VIEW_\("\(view)".uppercased())")
            }
            filter.add("status = ?", .integer(Int64(req.status.rawValue)))
            // The SLA indexes lead with the bucket, not the status.
            if req.order == .slaDue { filter.add("bucket = ?", .integer(bucket)) }
        } else if view != .any {
            filter.add("bucket = ?", .integer(Int64(view.rawValue)))
        }
        if req.priority != .unspecified { filter.add("urgency = ?", .integer(5 - Int64(req.priority.rawValue))) }
        if req.requesterID != 0 { filter.add("requester_id = ?", .integer(req.requesterID)) }
        if req.organizationID != 0 { filter.add("organization_id = ?", .integer(req.organizationID)) }
        TicketScope.apply(ctx.scope, to: &filter)
        // The order key: urgency (priority, then age) or sla_rank (due time).
        let key = req.order == .slaDue ? "sla_rank" : "urgency"
        let select = "SELECT \(TicketStore.columns), \(key) FROM service_tickets"
        var sql = "\(select) \(filter.clause) ORDER BY \(key), id LIMIT ?"
        var parameters = filter.parameters
        if let after = paging.after {
            // "After (u, i)" as two ranges merged in order: the rest of
            // urgency u after id i, then the urgencies after u. SQLite seeks
            // a row value (urgency, id) > (u, i) on urgency alone and walks
            // the ids before i (page 200 read 10,000 entries); each half
            // here is a seek on the full index prefix.
            let (u, i) = (try tokenInt(after[0]), try tokenInt(after[1]))
            var rest = filter, later = filter
            rest.add("\(key) = ? AND id > ?", u, i)
            later.add("\(key) > ?", u)
            // ORDER BY names result columns: the key is the 26th, id the 1st.
            sql = "\(select) \(rest.clause) UNION ALL \(select) \(later.clause) ORDER BY 26, 1 LIMIT ?"
            parameters = rest.parameters + later.parameters
        }
        // urgency is column 25 (0-based), after the decoded ones.
        let page = try fetchPage(try ctx.database, sql, parameters, paging, decode: TicketStore.decode, key: { [$0[25], $0[0]] })
        var response = Crm_Service_V1_ListTicketsResponse()
        response.tickets = page.rows
        response.nextPageToken = page.nextToken
        return response
    }
}
