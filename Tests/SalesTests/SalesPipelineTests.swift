import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import SalesTestClient
import Testing

/// Sales pipelines, opportunities, activities, forecast and stage statistics
/// over the real socket.
@Suite struct SalesPipelineTests {
    @Test func defaultPipelineIsSeededAndNewOnesAreChecked() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let sales = SalesClient(connection: try crmd.connect())
        let seeded = try await sales.getPipeline()
        #expect(seeded.name == "Sales" && seeded.isDefault)
        #expect(seeded.stages.map(\.name) == ["Qualification", "Needs analysis", "Proposal", "Negotiation"])
        #expect(seeded.stages.map(\.probability) == [10, 25, 50, 75])

        await expectRPCError(.invalidArgument, mentioning: "stages") { try await sales.createPipeline("Empty", []) }
        await expectRPCError(.invalidArgument, mentioning: "stages[1].name") {
            try await sales.createPipeline("Twice", [("Demo", 20), ("demo", 30)])
        }
        await expectRPCError(.invalidArgument, mentioning: "stages[0].probability") {
            try await sales.createPipeline("Sure", [("Done", 101)])
        }
        await expectRPCError(.alreadyExists, mentioning: "name") { try await sales.createPipeline("sales", [("A", 1)]) }
        await expectRPCError(.notFound, mentioning: "pipeline 99") { try await sales.getPipeline(99) }

        let enterprise = try await sales.createPipeline("Enterprise", [("Discovery", 5), ("Pilot", 40)], makeDefault: true)
        #expect(enterprise.isDefault && enterprise.stages.map(\.position) == [1, 2])
        #expect(try await sales.getPipeline() == enterprise)
        var names: [String] = []
        var token = ""
        repeat {
            let page: Crm_Sales_V1_ListPipelinesResponse = try await sales.call(
                "ListPipelines", Crm_Sales_V1_ListPipelinesRequest.with { $0.pageSize = 1; $0.pageToken = token })
            names += page.pipelines.map(\.name)
            #expect(page.pipelines.allSatisfy { !$0.stages.isEmpty })
            token = page.nextPageToken
        } while !token.isEmpty && names.count < 10
        #expect(names == ["Sales", "Enterprise"])
    }

    @Test func opportunityMovesThroughStagesAndIsWonWithItsHistory() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let connection = try crmd.connect()
        let sales = SalesClient(connection: connection)
        let contacts = ContactsClient(connection: connection)
        let org = try await contacts.createOrganization("Fleet Co")
        let buyer = try await contacts.createPerson("Fiona", "Fleet", organization: org.id)
        let other = try await sales.createPipeline("Partners", [("Intro", 10)])

        await expectRPCError(.invalidArgument, mentioning: "opportunity.name") { try await sales.createOpportunity(" ") }
        await expectRPCError(.notFound, mentioning: "opportunity.pipeline_id") { try await sales.createOpportunity("X", pipeline: 99) }
        await expectRPCError(.invalidArgument, mentioning: "opportunity.stage_id") {
            try await sales.createOpportunity("X", stage: other.stages[0].id)
        }
        await expectRPCError(.notFound, mentioning: "opportunity.person_id: person 424242 does not exist") {
            try await sales.createOpportunity("X", person: 424242)
        }
        await expectRPCError(.notFound, mentioning: "opportunity.organization_id") {
            try await sales.createOpportunity("X", organization: 424242)
        }
        await expectRPCError(.invalidArgument, mentioning: "opportunity.amount.currency") {
            try await sales.createOpportunity("X", amount: 5, currency: "eur")
        }
        await expectRPCError(.invalidArgument, mentioning: "opportunity.amount.amount_minor") {
            try await sales.createOpportunity("X", amount: -5)
        }
        await expectRPCError(.invalidArgument, mentioning: "opportunity.expected_close_date") {
            try await sales.createOpportunity("X", closeDate: "30.11.2026")
        }

        let stages = try await sales.getPipeline().stages
        let deal = try await sales.createOpportunity("Fleet deal", amount: 900_000, person: buyer.id, organization: org.id)
        #expect(deal.stageID == stages[0].id && deal.probability == 10 && deal.status == .open && deal.version == 1)
        try await Task.sleep(for: .milliseconds(5))
        _ = try await sales.move(deal.id, to: stages[1].id)
        try await Task.sleep(for: .milliseconds(5))
        let proposal = try await sales.move(deal.id, to: stages[2].id, probability: 60)
        #expect(proposal.stageName == "Proposal" && proposal.probability == 60 && proposal.version == 3)
        await expectRPCError(.invalidArgument, mentioning: "stage_id") { try await sales.move(deal.id, to: other.stages[0].id) }
        await expectRPCError(.notFound, mentioning: "stage 9999") { try await sales.move(deal.id, to: 9999) }

        let updated: SOpportunity = try await sales.call("UpdateOpportunity", Crm_Sales_V1_UpdateOpportunityRequest.with {
            $0.opportunity.id = deal.id
            $0.opportunity.amount = .with { $0.amountMinor = 950_000; $0.currency = "EUR" }
            $0.opportunity.name = "must not be written"
            $0.updateMask = ["amount"]
            $0.expectedVersion = 3
        })
        #expect(updated.amount.amountMinor == 950_000 && updated.name == "Fleet deal" && updated.version == 4)
        await expectRPCError(.invalidArgument, mentioning: "MoveOpportunity") {
            let _: SOpportunity = try await sales.call("UpdateOpportunity", Crm_Sales_V1_UpdateOpportunityRequest.with {
                $0.opportunity.id = deal.id
                $0.updateMask = ["stage_id"]
            })
        }

        try await Task.sleep(for: .milliseconds(5))
        let won = try await sales.win(deal.id)
        #expect(won.status == .won && won.probability == 100 && won.closedUnixUs > 0 && won.stageID == 0
            && won.stageName == "Won")
        let history = try await sales.getOpportunity(deal.id).stageHistory
        #expect(history.map(\.stageName) == ["Qualification", "Needs analysis", "Proposal", "Won"])
        #expect(history.map(\.stageID) == [stages[0].id, stages[1].id, stages[2].id, 0])
        #expect(history.first?.enteredUnixUs == deal.createdUnixUs && history.last?.enteredUnixUs == won.closedUnixUs)
        for (row, next) in zip(history, history.dropFirst()) {
            #expect(row.leftUnixUs == next.enteredUnixUs && row.enteredUnixUs < row.leftUnixUs)
        }
        #expect(history.last?.leftUnixUs == 0)
        await expectRPCError(.failedPrecondition, mentioning: "already won") { try await sales.move(deal.id, to: stages[3].id) }
        await expectRPCError(.failedPrecondition, mentioning: "already won") { try await sales.lose(deal.id, reason: "late") }

        let second = try await sales.createOpportunity("Second", person: buyer.id)
        await expectRPCError(.invalidArgument, mentioning: "reason") { try await sales.lose(second.id, reason: " ") }
        let lost = try await sales.lose(second.id, reason: "went with a competitor")
        #expect(lost.status == .lost && lost.probability == 0 && lost.lostReason == "went with a competitor")
        #expect(lost.stageHistory.map(\.stageName) == ["Qualification", "Lost"])

        let timeline = try await contacts.timeline(person: buyer.id, atLeast: 8)
        let summaries = timeline.map(\.summary)
        #expect(summaries.contains("Opportunity 'Fleet deal' moved to Proposal"))
        #expect(summaries.contains("Opportunity 'Fleet deal' won"))
        #expect(try await contacts.timeline(organization: org.id, atLeast: 7).contains { $0.topic == "sales.opportunity.won" })
    }

    @Test func activitiesAndOverdueFollowUps() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let sales = SalesClient(connection: try crmd.connect())
        let lead = try await sales.createLead(last: "Prospect", owner: "ann")
        await expectRPCError(.invalidArgument, mentioning: "activity.type") {
            try await sales.createActivity(.unspecified, "Call", lead: lead.id)
        }
        await expectRPCError(.invalidArgument, mentioning: "activity.subject") { try await sales.createActivity(.call, "", lead: lead.id) }
        await expectRPCError(.invalidArgument, mentioning: "lead_id") { try await sales.createActivity(.call, "Orphan") }
        await expectRPCError(.notFound, mentioning: "activity.lead_id") { try await sales.createActivity(.call, "X", lead: 999) }
        await expectRPCError(.notFound, mentioning: "activity.opportunity_id") {
            try await sales.createActivity(.call, "X", opportunity: 999)
        }
        await expectRPCError(.notFound, mentioning: "activity.person_id") { try await sales.createActivity(.call, "X", person: 999) }

        let hour: Int64 = 3_600_000_000
        let now = nowMicros()
        let oldest = try await sales.createActivity(.call, "Call back", owner: "ann", due: now - 3 * hour, lead: lead.id)
        let recent = try await sales.createActivity(.email, "Send quote", owner: "ann", due: now - hour, lead: lead.id)
        let done = try await sales.createActivity(.task, "Prepare", owner: "ann", due: now - 2 * hour, lead: lead.id)
        _ = try await sales.createActivity(.meeting, "Demo", owner: "ann", due: now + hour, lead: lead.id)
        _ = try await sales.createActivity(.task, "Someday", owner: "ann", lead: lead.id)
        _ = try await sales.createActivity(.call, "Ben's", owner: "ben", due: now - hour, lead: lead.id)

        let completed: SActivity = try await sales.call("CompleteActivity", Crm_Sales_V1_CompleteActivityRequest.with {
            $0.id = done.id
            $0.notes = "done early"
        })
        #expect(completed.completedUnixUs > 0 && completed.notes == "done early")
        await expectRPCError(.failedPrecondition, mentioning: "already completed") {
            let _: SActivity = try await sales.call("CompleteActivity", Crm_Sales_V1_CompleteActivityRequest.with { $0.id = done.id })
        }

        #expect(try await sales.followUps("ann").activities.map(\.id) == [oldest.id, recent.id])
        let firstPage = try await sales.followUps("ann", pageSize: 1)
        let secondPage = try await sales.followUps("ann", pageSize: 1, token: firstPage.nextPageToken)
        #expect(firstPage.activities.map(\.id) == [oldest.id] && secondPage.activities.map(\.id) == [recent.id])
        #expect(secondPage.nextPageToken.isEmpty)
        await expectRPCError(.invalidArgument, mentioning: "owner") { try await sales.followUps("") }

        let open: Crm_Sales_V1_ListActivitiesResponse = try await sales.call("ListActivities", Crm_Sales_V1_ListActivitiesRequest.with {
            $0.leadID = lead.id
            $0.owner = "ann"
            $0.openOnly = true
        })
        #expect(open.activities.count == 4 && !open.activities.contains { $0.id == done.id })
    }

    @Test func mergedPeopleAreRepointedInSales() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let connection = try crmd.connect()
        let sales = SalesClient(connection: connection)
        let contacts = ContactsClient(connection: connection)
        let survivor = try await contacts.createPerson("Rosalind", "Franklin")
        let merged = try await contacts.createPerson("R.", "Franklin")
        let deal = try await sales.createOpportunity("Microscopes", person: merged.id)
        let call = try await sales.createActivity(.call, "Intro", person: merged.id)
        let _: CPerson = try await contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = survivor.id
            $0.mergedID = merged.id
        })
        #expect(try await eventually { try await sales.getOpportunity(deal.id).personID == survivor.id })
        #expect(try await sales.getOpportunity(deal.id).version == 2)
        let activities: Crm_Sales_V1_ListActivitiesResponse = try await sales.call(
            "ListActivities", Crm_Sales_V1_ListActivitiesRequest.with { $0.personID = survivor.id })
        #expect(activities.activities.map(\.id) == [call.id])
    }
}
