import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// Survey results by agent, team and UTC period, with CSAT %, CES average,
/// response rate and the split by the tickets' SLA outcome; free-text
/// comments; both in the caller's scope.
@Suite struct ServiceSurveyResultsTests {
    static func utcDay(_ offsetDays: Int = 0, monday: Bool = false, first: Bool = false) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var date = Date().addingTimeInterval(Double(offsetDays) * 86_400)
        if monday {
            let weekday = calendar.component(.weekday, from: date)  // 1 Sunday ... 7 Saturday
            date = date.addingTimeInterval(-Double((weekday + 5) % 7) * 86_400)
        }
        var parts = calendar.dateComponents([.year, .month, .day], from: date)
        if first { parts.day = 1 }
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    @Test func resultsByAgentTeamAndPeriodSplitBySlaOutcome() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        var first: SurveyWorld? = try await SurveyWorld.start(dataDir: dataDir)
        let w1 = first!.world
        let calendar = try await w1.mia.alwaysOpen()
        _ = try await w1.mia.createPolicy("Resolve in 10 h", calendar: calendar.id, resolution: 600)
        _ = try await w1.mia.createSurvey("After solve", isDefault: true)
        let ada = try await w1.person("Ada", "Lovelace")
        let t1 = try await w1.ana.solvedTicket("One", requester: ada)
        let t2 = try await w1.ben.solvedTicket("Two", requester: ada, assignee: "ben")
        let t4 = try await w1.ana.solvedTicket("Four", requester: ada)
        let t3 = try await w1.cy.create("Three", requester: ada, assignee: "cy", team: "tech")
        // A breach takes a minute of waiting: the fixture sets it, as FireSlaTimers
        // would have (breach_fired survives recomputes), while crmd is stopped.
        _ = try w1.crmd.stop()
        first = nil
        try surveySQL(dataDir + "/crm.db", "UPDATE service_sla_clocks SET breached = 1, breach_fired = 1, warned = 1 WHERE ticket_id = \(t3.id)")
        let w = try ServiceWorld.reopen(dataDir: dataDir)
        let s = SurveyWorld(world: w, edge: ServiceClient(connection: w.connection, metadata: AccessSupport.actingAs("edge")))
        _ = try await w.cy.setStatus(t3.id, .solved)

        var links: [Int64: String] = [:]
        for t in [t1, t2, t3, t4] {
            let invitation = try await s.dispatched(t.id)
            links[t.id] = token(invitation.link)
        }
        #expect(try await w.admin.invitations(ticket: t1.id)[0].slaOutcome == .met)
        #expect(try await w.admin.invitations(ticket: t3.id)[0].slaOutcome == .breached)
        try await s.edge.submit(links[t1.id]!, csat: 5, effort: 6, comment: "Great")
        try await s.edge.submit(links[t2.id]!, csat: 2, effort: 3)
        try await s.edge.submit(links[t3.id]!, csat: 4, comment: "Slow but fine")

        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let from = now - 86_400_000_000, to = now + 86_400_000_000
        let byAgent = try await w.mia.surveyResults(from: from, to: to, by: .agent)
        #expect(byAgent.rows.map(\.group) == ["ana", "ben", "cy"])
        let ana = byAgent.rows[0].all, ben = byAgent.rows[1].all, cy = byAgent.rows[2]
        #expect(ana.invited == 2 && ana.sent == 2 && ana.answered == 1 && ana.responseRatePercent == 50)
        #expect(ana.csatResponses == 1 && ana.csatSatisfied == 1 && ana.csatPercent == 100 && ana.cesResponses == 1 && ana.cesAverage == 6)
        #expect(ben.csatResponses == 1 && ben.csatSatisfied == 0 && ben.csatPercent == 0 && ben.cesAverage == 3)
        #expect(cy.slaBreached.csatResponses == 1 && cy.slaBreached.csatSatisfied == 1 && cy.slaMet.invited == 0)
        let total = byAgent.total
        #expect(total.group == "" && total.all.invited == 4 && total.all.sent == 4 && total.all.answered == 3)
        #expect(total.all.responseRatePercent == 75 && total.all.csatResponses == 3 && total.all.csatSatisfied == 2)
        #expect(abs(total.all.csatPercent - 200.0 / 3) < 1e-9 && total.all.cesResponses == 2 && total.all.cesAverage == 4.5)
        let met = total.slaMet, breached = total.slaBreached
        #expect(met.invited == 3 && met.csatResponses == 2 && met.csatPercent == 50 && met.cesAverage == 4.5)
        #expect(breached.invited == 1 && breached.csatPercent == 100 && total.slaNone.invited == 0)

        let byTeam = try await w.mia.surveyResults(from: from, to: to, by: .team)
        let teams: [String] = byTeam.rows.map(\.group)
        let invitedByTeam: [Int64] = byTeam.rows.map(\.all.invited)
        #expect(teams == ["billing", "tech"] && invitedByTeam == [3, 1])
        // Periods: today's UTC day, this ISO week's Monday, this month's first day.
        for (by, name) in [(Crm_Service_V1_SurveyGroupBy.day, Self.utcDay()), (.week, Self.utcDay(monday: true)),
                           (.month, Self.utcDay(first: true))] {
            let periods = try await w.mia.surveyResults(from: from, to: to, by: by)
            #expect(periods.rows.map(\.group) == [name], "\(by)")
            #expect(periods.rows.first?.all.invited == 4 && (periods.rows.first?.periodStartUnixUs ?? 1) % 86_400_000_000 == 0)
        }
        // Pages: by name; the total comes with the first.
        let page1 = try await w.mia.surveyResults(from: from, to: to, by: .agent, pageSize: 2)
        #expect(page1.rows.map(\.group) == ["ana", "ben"] && !page1.nextPageToken.isEmpty)
        let page2 = try await w.mia.surveyResults(from: from, to: to, by: .agent, pageSize: 2, token: page1.nextPageToken)
        #expect(page2.rows.map(\.group) == ["cy"] && page2.nextPageToken.isEmpty && page2.total.all.invited == 0)
        // ben's team scope reaches ana and ben, not cy.
        let bens = try await w.ben.surveyResults(from: from, to: to, by: .agent)
        #expect(bens.rows.map(\.group) == ["ana", "ben"] && bens.total.all.invited == 3)
        // Another range finds nothing.
        #expect(try await w.mia.surveyResults(from: from - 86_400_000_000, to: from, by: .agent).rows.isEmpty)

        // Comments, newest first, with the invitation's CSAT score.
        let comments = try await w.mia.comments(from: from, to: to)
        let texts: [String] = comments.comments.map(\.text)
        let scores: [Int32] = comments.comments.map(\.csatScore)
        #expect(texts == ["Slow but fine", "Great"] && scores == [4, 5])
        #expect(comments.comments[0].ticketID == t3.id && comments.comments[0].agent == "cy" && comments.comments[0].questionKey == "comment")
        #expect(try await w.mia.comments(from: from, to: to, team: "billing").comments.map(\.text) == ["Great"])
        let c1 = try await w.mia.comments(from: from, to: to, pageSize: 1)
        let c2 = try await w.mia.comments(from: from, to: to, pageSize: 1, token: c1.nextPageToken)
        #expect(c1.comments.map(\.text) == ["Slow but fine"] && c2.comments.map(\.text) == ["Great"] && c2.nextPageToken.isEmpty)
        #expect(try await w.ben.comments(from: from, to: to).comments.map(\.text) == ["Great"], "cy's comment is out of ben's reach")
    }

    @Test func resultRequestsAreChecked() async throws {
        let s = try await SurveyWorld.start()
        let w = s.world
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        await expectRPCError(.invalidArgument, mentioning: "group_by is required") {
            try await w.mia.surveyResults(from: now - 1000, to: now, by: .unspecified)
        }
        await expectRPCError(.invalidArgument, mentioning: "to_unix_us must be after from_unix_us") {
            try await w.mia.surveyResults(from: now, to: now - 1, by: .agent)
        }
        await expectRPCError(.invalidArgument, mentioning: "longer than 400 days") {
            try await w.mia.surveyResults(from: now - 401 * 86_400_000_000, to: now, by: .team)
        }
        await expectRPCError(.invalidArgument, mentioning: "from_unix_us") { try await w.mia.surveyResults(from: 0, to: now, by: .day) }
        await expectRPCError(.invalidArgument, mentioning: "team \"Bad Team\" is not a CRM name") {
            try await w.mia.surveyResults(from: now - 1000, to: now, by: .day, team: "Bad Team")
        }
        await expectRPCError(.invalidArgument, mentioning: "page_token is not a token this list returned") {
            try await w.mia.surveyResults(from: now - 1000, to: now, by: .agent, token: "garbage")
        }
        await expectRPCError(.invalidArgument, mentioning: "longer than 400 days") {
            try await w.mia.comments(from: now - 401 * 86_400_000_000, to: now)
        }
        await expectRPCError(.permissionDenied, mentioning: "service.survey.read") {
            try await s.edge.surveyResults(from: now - 1000, to: now, by: .agent)
        }
    }
}
