import CRMPluginKit
import ServiceContract

/// GetSurveyResults: the invitations made in a range (an index range on
/// created_us) with their scored answers, tallied per agent, team or UTC
/// period and split by the ticket's SLA outcome at the solve.
enum SurveyResults {
    static let maxRangeMicros: Int64 = 400 * 86_400_000_000
    static let dayMicros: Int64 = 86_400_000_000

    static func register(on def: PluginDefinition) {
        def.unary(SurveyDefinitions.surveys + "GetSurveyResults", results)
    }

    /// Running counts behind one SurveyFigures.
    struct Tally {
        var invited: Int64 = 0, sent: Int64 = 0, answered: Int64 = 0
        var csat: Int64 = 0, satisfied: Int64 = 0, ces: Int64 = 0, cesSum: Int64 = 0

        var figures: Crm_Service_V1_SurveyFigures {
            .with {
                $0.invited = invited
                $0.sent = sent
                $0.answered = answered
                $0.responseRatePercent = sent > 0 ? Double(answered) * 100 / Double(sent) : 0
                $0.csatResponses = csat
                $0.csatSatisfied = satisfied
                $0.csatPercent = csat > 0 ? Double(satisfied) * 100 / Double(csat) : 0
                $0.cesResponses = ces
                $0.cesAverage = ces > 0 ? Double(cesSum) / Double(ces) : 0
            }
        }
    }

    struct Group {
        var periodStart: Int64 = 0
        var all = Tally(), met = Tally(), breached = Tally(), none = Tally()

        mutating func add(_ outcome: Crm_Service_V1_SurveySlaOutcome, _ change: (inout Tally) -> Void) {
            change(&all)
            switch outcome {
            case .met: change(&met)
            case .breached: change(&breached)
            default: change(&none)
            }
        }

        func row(_ name: String) -> Crm_Service_V1_SurveyResultsRow {
            .with {
                $0.group = name
                $0.periodStartUnixUs = periodStart
                $0.all = all.figures
                $0.slaMet = met.figures
                $0.slaBreached = breached.figures
                $0.slaNone = none.figures
            }
        }
    }

    static func results(_ ctx: CallContext, _ req: Crm_Service_V1_GetSurveyResultsRequest) throws -> Crm_Service_V1_GetSurveyResultsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        try Check.known(req.groupBy.rawValue, 1...5, "group_by")
        try checkRange(req.fromUnixUs, req.toUnixUs)
        try Validate.optionalID(req.surveyID, "survey_id")
        try Check.name(req.team, "team")
        var after: String?
        if let token = paging.after {
            guard case .text(let name) = token[0] else { throw PluginError.invalidArgument("page_token is not a token this list returned") }
            after = name
        }
        var filter = SQLFilter()
        filter.add("i.created_us >= ? AND i.created_us < ?", .integer(req.fromUnixUs), .integer(req.toUnixUs))
        if req.surveyID > 0 { filter.add("i.survey_id = ?", .integer(req.surveyID)) }
        if !req.team.isEmpty { filter.add("i.team = ?", .text(req.team)) }
        // Below scope all, the invitations of agents in reach.
        ctx.scope.apply(to: &filter, ownerColumn: "i.agent")
        let rows = try ctx.database.query("""
            SELECT i.id, i.agent, i.team, i.created_us, i.sla_outcome, i.dispatch, i.answered_us, a.kind, a.score
            FROM service_survey_invitations i
            LEFT JOIN service_survey_answers a ON a.invitation_id = i.id AND a.kind IN (?, ?)
            \(filter.clause) ORDER BY i.id
            """, [.integer(Int64(Crm_Service_V1_SurveyQuestionKind.csat.rawValue)),
                  .integer(Int64(Crm_Service_V1_SurveyQuestionKind.ces.rawValue))] + filter.parameters)
        var groups: [String: Group] = [:]
        var total = Group()
        var lastID: Int64 = 0
        for r in rows {
            let (name, start) = groupKey(req.groupBy, agent: r.text(1), team: r.text(2), created: r.int(3))
            let outcome = Crm_Service_V1_SurveySlaOutcome(rawValue: Int(truncatingIfNeeded: r.int(4))) ?? .unspecified
            var g = groups[name] ?? Group(periodStart: start)
            // The join repeats an invitation once per scored answer: count it once.
            if r.int(0) != lastID {
                lastID = r.int(0)
                let dispatch = Crm_Service_V1_SurveyDispatch(rawValue: Int(truncatingIfNeeded: r.int(5))) ?? .unspecified
                let sent = dispatch == .emailQueued || dispatch == .linkOnly
                let answered = r.int(6) > 0
                let count: (inout Tally) -> Void = {
                    $0.invited += 1
                    if sent { $0.sent += 1 }
                    if answered { $0.answered += 1 }
                }
                g.add(outcome, count)
                total.add(outcome, count)
            }
            if case .integer(let kind) = r[7] {
                let score = r.int(8)
                let count: (inout Tally) -> Void = {
                    if kind == Int64(Crm_Service_V1_SurveyQuestionKind.csat.rawValue) {
                        $0.csat += 1
                        if score >= 4 { $0.satisfied += 1 }
                    } else {
                        $0.ces += 1
                        $0.cesSum += score
                    }
                }
                g.add(outcome, count)
                total.add(outcome, count)
            }
            groups[name] = g
        }
        // Period names are "YYYY-MM-DD": their text order is their time order.
        let names = groups.keys.sorted().filter { after == nil || $0 > after! }
        let kept = Array(names.prefix(paging.limit))
        var response = Crm_Service_V1_GetSurveyResultsResponse()
        response.rows = kept.map { groups[$0]!.row($0) }
        if after == nil { response.total = total.row("") }
        if names.count > paging.limit, let last = kept.last {
            response.nextPageToken = paging.page(kept + [last], key: { [.text($0)] }).nextToken
        }
        return response
    }

    static func checkRange(_ from: Int64, _ to: Int64) throws {
        try Checked.inRange(from, 1...SlaCalendars.latestMicros, "from_unix_us")
        try Checked.inRange(to, 1...SlaCalendars.latestMicros, "to_unix_us")
        guard to > from else { throw PluginError.invalidArgument("to_unix_us must be after from_unix_us") }
        guard to - from <= maxRangeMicros else { throw PluginError.invalidArgument("to_unix_us: the range is longer than 400 days") }
    }

    /// The group an invitation falls in, and a period's first instant.
    static func groupKey(_ by: Crm_Service_V1_SurveyGroupBy, agent: String, team: String, created: Int64) -> (String, Int64) {
        switch by {
        case .agent: return (agent, 0)
        case .team: return (team, 0)
        default:
            // created_us is positive (checked range), so the day number is too.
            var day = created / dayMicros
            if by == .week { day -= (day + 3) % 7 }  // 1970-01-01 was a Thursday; weeks start on Monday
            let (y, m, dayOfMonth) = civil(day)
            var d = dayOfMonth
            if by == .month {
                d = 1
                day = days(y, m, 1)
            }
            let name = "\(y)-\(m < 10 ? "0" : "")\(m)-\(d < 10 ? "0" : "")\(d)"
            return (name, day * dayMicros)
        }
    }

    /// The proleptic Gregorian date of a day number (days since 1970-01-01;
    /// Howard Hinnant's civil_from_days), for days ≥ 0.
    static func civil(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = z / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// The day number of a date (days_from_civil), the inverse of `civil`.
    static func days(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = y / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
