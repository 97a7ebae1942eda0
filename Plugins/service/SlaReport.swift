import CRMPluginKit
import ServiceContract

/// GetSlaReport: clock cycles by the time of their outcome (the range is
/// an index range on service_sla_clocks.outcome_us), grouped by team or
/// agent, met and breached counts for cycles that had a target, and
/// nearest-rank median and 90th percentile business time of every stopped
/// first-response and resolution cycle. Groups are sorted by name and
/// paginated by it.
enum SlaReport {
    static let maxRangeMicros: Int64 = 400 * 86_400_000_000

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "GetSlaReport", report)
    }

    /// Nearest rank: the smallest value with at least p% of them at or below it.
    static func percentile(_ sorted: [Int64], _ p: Int) -> Int64 {
        guard !sorted.isEmpty else { return 0 }
        let rank = (p * sorted.count + 99) / 100
        return sorted[max(0, min(sorted.count - 1, rank - 1))]
    }

    static func report(_ ctx: CallContext, _ req: Crm_Service_V1_GetSlaReportRequest) throws -> Crm_Service_V1_GetSlaReportResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        try Check.known(req.groupBy.rawValue, 1...2, "group_by")
        try Checked.inRange(req.fromUnixUs, 1...SlaCalendars.latestMicros, "from_unix_us")
        try Checked.inRange(req.toUnixUs, 1...SlaCalendars.latestMicros, "to_unix_us")
        guard req.toUnixUs > req.fromUnixUs else { throw PluginError.invalidArgument("to_unix_us must be after from_unix_us") }
        guard req.toUnixUs - req.fromUnixUs <= maxRangeMicros else {
            throw PluginError.invalidArgument("to_unix_us: the range is longer than 400 days")
        }
        var after: String?
        if let token = paging.after {
            guard case .text(let name) = token[0] else { throw PluginError.invalidArgument("page_token is not a token this list returned") }
            after = name
        }
        var filter = SQLFilter()
        filter.add("outcome_us >= ? AND outcome_us < ?", .integer(req.fromUnixUs), .integer(req.toUnixUs))
        // Below scope all, the cycles of agents in reach (the scope's owners).
        ctx.scope.apply(to: &filter, ownerColumn: "agent")
        let rows = try ctx.database.query("""
            SELECT kind, target_minutes, stopped_us, business_us, breached, team, agent FROM service_sla_clocks \(filter.clause)
            """, filter.parameters)
        struct Tally { var row = Crm_Service_V1_SlaReportRow(); var first: [Int64] = []; var resolution: [Int64] = [] }
        var groups: [String: Tally] = [:]
        for r in rows {
            let group = req.groupBy == .team ? r.text(5) : r.text(6)
            if let after, group <= after { continue }
            let kind = SlaClockKind(rawValue: Int(truncatingIfNeeded: r.int(0))) ?? .unspecified
            let targeted = r.int(1) > 0, stopped = r.int(2) > 0, breached = r.int(4) != 0
            var tally = groups[group] ?? Tally()
            tally.row.group = group
            let met = targeted && stopped && !breached
            let missed = targeted && breached
            switch kind {
            case .firstResponse:
                if met { tally.row.firstResponseMet += 1 }
                if missed { tally.row.firstResponseBreached += 1 }
                if stopped { tally.first.append(r.int(3) / 1_000_000) }
            case .nextResponse:
                if met { tally.row.nextResponseMet += 1 }
                if missed { tally.row.nextResponseBreached += 1 }
            case .resolution:
                if met { tally.row.resolutionMet += 1 }
                if missed { tally.row.resolutionBreached += 1 }
                if stopped { tally.resolution.append(r.int(3) / 1_000_000) }
            default:
                break
            }
            groups[group] = tally
        }
        let names = groups.keys.sorted()
        let kept = names.prefix(paging.limit).map { name -> Crm_Service_V1_SlaReportRow in
            var t = groups[name]!
            t.first.sort()
            t.resolution.sort()
            t.row.firstResponseMedianSeconds = percentile(t.first, 50)
            t.row.firstResponseP90Seconds = percentile(t.first, 90)
            t.row.resolutionMedianSeconds = percentile(t.resolution, 50)
            t.row.resolutionP90Seconds = percentile(t.resolution, 90)
            return t.row
        }
        var response = Crm_Service_V1_GetSlaReportResponse()
        response.rows = kept
        if names.count > paging.limit, let last = kept.last {
            response.nextPageToken = paging.page(Array(kept) + [last], key: { [.text($0.group)] }).nextToken
        }
        return response
    }
}
