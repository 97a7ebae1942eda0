import B2BTestClient
import CRMClient
import CRMProto
import CRMWire
import CRMTestSupport
import ContactsTestClient
import Foundation
import SalesTestClient
import Testing

/// Item 2 of issue 16: deals on sales opportunities, through a pipeline of
/// stages gated by a MEDDICC scorecard, the opportunity kept in step.
@Suite struct DealTests {
    @Test func aPipelineHasDefaultStagesAndASalesTwin() async throws {
        let world = try await B2BWorld.start(users: [])
        let pipeline = try await world.dealPipeline(key: "p-1")
        #expect(pipeline.stages.map(\.key) == ["qualification", "discovery", "proposal", "negotiation", "contract_sent"])
        #expect(pipeline.criteria.map(\.key) == ["metrics", "economic_buyer", "decision_criteria", "decision_process",
                                                 "paper_process", "identify_pain", "champion", "competition"])
        #expect(pipeline.stages[1].requiredCriteria == ["metrics", "champion"])
        let sales = try await world.sales.getPipeline(pipeline.salesPipelineID)
        #expect(sales.name == "Enterprise" && sales.stages.map(\.id) == pipeline.stages.map(\.salesStageID))
        #expect(try await world.dealPipeline(key: "p-1").id == pipeline.id, "a retry gets the first answer")
        let listed: Crm_B2b_V1_ListDealPipelinesResponse = try await world.admin.call("ListDealPipelines", Crm_B2b_V1_ListDealPipelinesRequest())
        #expect(listed.pipelines.map(\.id) == [pipeline.id])
        // Configured: its own stages and criteria; bad ones named.
        let custom = try await world.dealPipeline("Channel", stages: [
            .with { $0.key = "intro"; $0.name = "Intro"; $0.probability = 20; $0.requiredCriteria = ["champion"] },
            .with { $0.key = "terms"; $0.name = "Terms"; $0.probability = 70 },
        ])
        #expect(custom.stages.map(\.key) == ["intro", "terms"])
        await expectRPCError(.invalidArgument, mentioning: "pipeline.stages[0].required_criteria: \"budget\" is not a criterion") {
            try await world.dealPipeline("Bad", stages: [.with { $0.key = "a"; $0.name = "A"; $0.requiredCriteria = ["budget"] }])
        }
        await expectRPCError(.invalidArgument, mentioning: "pipeline.stages[0].key \"signed\" is an outcome") {
            try await world.dealPipeline("Bad", stages: [.with { $0.key = "signed"; $0.name = "S" }])
        }
        await expectRPCError(.invalidArgument, mentioning: "pipeline.stages[0].key \"Big Stage\" must be 1 to 40 of a-z 0-9 _") {
            try await world.dealPipeline("Bad", stages: [.with { $0.key = "Big Stage"; $0.name = "S" }])
        }
        await expectRPCError(.invalidArgument, mentioning: "pipeline.name") { try await world.dealPipeline("") }
        await expectRPCError(.alreadyExists, mentioning: "Enterprise") { try await world.dealPipeline("Enterprise") }
        await expectRPCError(.notFound, mentioning: "id: deal pipeline 99 does not exist") {
            let _: BPipeline = try await world.admin.call("GetDealPipeline", Crm_B2b_V1_GetDealPipelineRequest.with { $0.id = 99 })
        }
    }

    @Test func theScorecardGatesEachStageAndTheOpportunityFollows() async throws {
        let world = try await B2BWorld.start(users: [])
        let pipeline = try await world.dealPipeline()
        let seller = try await world.seller()
        let buyer = try await world.buyer()
        let deal = try await world.createDeal(world.admin, pipeline: pipeline.id, seller: seller.id, buyer: buyer.id, key: "d-1")
        #expect(deal.stage == "qualification" && deal.status == .open && deal.amount.amountMinor == 250_000)
        #expect(deal.scorecard.count == 8 && deal.scorecard.allSatisfy { !$0.met })
        var opportunity = try await world.sales.getOpportunity(deal.opportunityID)
        #expect(opportunity.pipelineID == pipeline.salesPipelineID && opportunity.stageID == pipeline.stages[0].salesStageID)
        #expect(opportunity.organizationID == buyer.id)
        #expect(try await world.createDeal(world.admin, pipeline: pipeline.id, seller: seller.id, buyer: buyer.id, key: "d-1").id == deal.id)
        // Past qualification needs identified pain; two stages at once need discovery's too, each named.
        await expectRPCError(.failedPrecondition, mentioning: "deal \(deal.id) cannot move from qualification to discovery: "
                                 + "qualification needs criterion identify_pain (Identified pain)") {
            try await world.move(world.admin, deal.id, to: "discovery")
        }
        try await world.score(world.admin, deal.id, ["identify_pain"])
        await expectRPCError(.failedPrecondition, mentioning: "discovery needs criterion metrics (Metrics); discovery needs criterion champion (Champion)") {
            try await world.move(world.admin, deal.id, to: "proposal")
        }
        let discovery = try await world.move(world.admin, deal.id, to: "discovery")
        #expect(discovery.stage == "discovery")
        opportunity = try await world.sales.getOpportunity(deal.opportunityID)
        #expect(opportunity.stageID == pipeline.stages[1].salesStageID && opportunity.probability == 25)
        // A criterion scored as not met does not count; back needs nothing.
        try await world.score(world.admin, deal.id, ["metrics", "champion"])
        try await world.score(world.admin, deal.id, ["champion"], met: false)
        await expectRPCError(.failedPrecondition, mentioning: "criterion champion (Champion)") {
            try await world.move(world.admin, deal.id, to: "proposal")
        }
        #expect(try await world.move(world.admin, deal.id, to: "qualification").stage == "qualification")
        // Signing needs every criterion of the stages left.
        try await world.score(world.admin, deal.id, ["champion", "economic_buyer", "decision_criteria", "decision_process"])
        await expectRPCError(.failedPrecondition, mentioning: "negotiation needs criterion paper_process (Paper process)") {
            try await world.move(world.admin, deal.id, to: "signed")
        }
        let scored = try await world.score(world.admin, deal.id, ["paper_process"])
        #expect(scored.scorecard.first { $0.criterion == "paper_process" }?.met == true)
        let signed = try await world.move(world.admin, deal.id, to: "signed")
        #expect(signed.status == .signed && signed.stage == "signed")
        #expect(try await world.sales.getOpportunity(deal.opportunityID).status == .won)
        await expectRPCError(.failedPrecondition, mentioning: "deal \(deal.id) is signed") {
            try await world.move(world.admin, deal.id, to: "proposal")
        }
        // Bad input.
        await expectRPCError(.notFound, mentioning: "has no stage \"closing\"") {
            let other = try await world.createDeal(world.admin, pipeline: pipeline.id, seller: seller.id, buyer: buyer.id)
            return try await world.move(world.admin, other.id, to: "closing")
        }
        await expectRPCError(.invalidArgument, mentioning: "criterion \"budget\" is not one of deal pipeline") {
            try await world.score(world.admin, deal.id, ["budget"])
        }
        let audit: Crm_Kernel_V1_ListAuditResponse = try await world.connection.call(
            "/crm.kernel.v1.Audit/List", Crm_Kernel_V1_ListAuditRequest.with { $0.entity = "b2b.deal"; $0.recordID = "\(deal.id)" })
        #expect(Set(audit.entries.map(\.action)).isSuperset(of: ["create", "score", "move"]))
    }

    @Test func attachLoseUpdateAndFollowSales() async throws {
        let world = try await B2BWorld.start(users: [])
        let pipeline = try await world.dealPipeline()
        let seller = try await world.seller()
        let buyer = try await world.buyer()
        // Attach an existing opportunity of the pipeline's sales pipeline, at its stage.
        let existing = try await world.sales.createOpportunity("Existing", amount: 9_000, pipeline: pipeline.salesPipelineID,
                                                               stage: pipeline.stages[2].salesStageID, organization: buyer.id)
        let attached = try await world.createDeal(world.admin, pipeline: pipeline.id, seller: seller.id, buyer: 0,
                                                  opportunity: existing.id)
        #expect(attached.stage == "proposal" && attached.buyingOrganizationID == buyer.id && attached.name == "Existing")
        await expectRPCError(.alreadyExists, mentioning: "opportunity \(existing.id) already has a deal") {
            try await world.createDeal(world.admin, pipeline: pipeline.id, seller: seller.id, buyer: 0, opportunity: existing.id)
        }
        let elsewhere = try await world.sales.createOpportunity("Default pipeline", amount: 1, organization: buyer.id)
        await expectRPCError(.failedPrecondition, mentioning: "not deal pipeline \(pipeline.id)'s") {
            try await world.createDeal(world.admin, pipeline: pipeline.id, seller: seller.id, buyer: 0, opportunity: elsewhere.id)
        }
        await expectRPCError(.invalidArgument, mentioning: "selling_organization_id and buying_organization_id are both") {
            try await world.createDeal(world.admin, pipeline: pipeline.id, seller: buyer.id, buyer: buyer.id)
        }
        await expectRPCError(.notFound, mentioning: "selling_organization_id: organization 999999 does not exist") {
            try await world.createDeal(world.admin, pipeline: pipeline.id, seller: 999_999, buyer: buyer.id)
        }
        await expectRPCError(.invalidArgument, mentioning: "amount") {
            try await world.createDeal(world.admin, pipeline: pipeline.id, seller: seller.id, buyer: buyer.id, amount: -5)
        }
        // The amount goes to sales; a stage moved in sales directly is followed.
        let updated: BDeal = try await world.admin.call("UpdateDeal", Crm_B2b_V1_UpdateDealRequest.with {
            $0.id = attached.id
            $0.amount = .with { $0.amountMinor = 12_000; $0.currency = "EUR" }
            $0.updateMask = ["amount"]
            $0.expectedVersion = attached.version
        })
        #expect(updated.amount.amountMinor == 12_000)
        #expect(try await world.sales.getOpportunity(existing.id).amount.amountMinor == 12_000)
        await expectRPCError(.aborted, mentioning: "deal \(attached.id)") {
            let _: BDeal = try await world.admin.call("UpdateDeal", Crm_B2b_V1_UpdateDealRequest.with {
                $0.id = attached.id; $0.name = "X"; $0.updateMask = ["name"]; $0.expectedVersion = attached.version
            })
        }
        await expectRPCError(.invalidArgument, mentioning: "update_mask: \"stage\"") {
            let _: BDeal = try await world.admin.call("UpdateDeal", Crm_B2b_V1_UpdateDealRequest.with {
                $0.id = attached.id; $0.updateMask = ["stage"]
            })
        }
        _ = try await world.sales.move(existing.id, to: pipeline.stages[3].salesStageID)
        #expect(try await eventually { try await world.getDeal(world.admin, attached.id).stage == "negotiation" })
        // Lost needs a reason, and loses the opportunity.
        await expectRPCError(.invalidArgument, mentioning: "lost_reason") { try await world.move(world.admin, attached.id, to: "lost") }
        let lost = try await world.move(world.admin, attached.id, to: "lost", reason: "went with a competitor")
        #expect(lost.status == .lost && lost.lostReason == "went with a competitor")
        #expect(try await world.sales.getOpportunity(existing.id).status == .lost)
        let listed: Crm_B2b_V1_ListDealsResponse = try await world.admin.call("ListDeals", Crm_B2b_V1_ListDealsRequest.with {
            $0.status = .lost
        })
        #expect(listed.deals.map(\.id) == [attached.id])
    }

    /// Record scope: a deal is its opportunity's owner's.
    @Test func aRepWorksOnlyTheirOwnDeals() async throws {
        let world = try await B2BWorld.start()
        let pipeline = try await world.dealPipeline()
        // A rep names organizations they can read (contacts' scope): their own seller entity here.
        let seller = try await world.buyer("Our Company (Ann's desk)", owner: "ann")
        let bobsSeller = try await world.buyer("Our Company (Bob's desk)", owner: "bob")
        let annsBuyer = try await world.buyer("Ann's customer", owner: "ann")
        let bobsBuyer = try await world.buyer("Bob's customer", owner: "bob")
        let annsDeal = try await world.createDeal(world.ann, pipeline: pipeline.id, seller: seller.id, buyer: annsBuyer.id)
        let bobsDeal = try await world.createDeal(world.bob, pipeline: pipeline.id, seller: bobsSeller.id, buyer: bobsBuyer.id)
        #expect(annsDeal.owner == "ann" && bobsDeal.owner == "bob")
        await expectRPCError(.notFound, mentioning: "id: deal \(bobsDeal.id) does not exist") { try await world.getDeal(world.ann, bobsDeal.id) }
        await expectRPCError(.permissionDenied, mentioning: "is outside your record scope") {
            try await world.move(world.ann, bobsDeal.id, to: "lost", reason: "x")
        }
        let anns: Crm_B2b_V1_ListDealsResponse = try await world.ann.call("ListDeals", Crm_B2b_V1_ListDealsRequest())
        #expect(anns.deals.map(\.id) == [annsDeal.id])
        let megs: Crm_B2b_V1_ListDealsResponse = try await world.meg.call("ListDeals", Crm_B2b_V1_ListDealsRequest.with { $0.pageSize = 1 })
        #expect(megs.deals.map(\.id) == [annsDeal.id] && !megs.nextPageToken.isEmpty)
        await expectRPCError(.permissionDenied, mentioning: "lacks permission b2b.deal_pipeline.write") {
            try await world.dealPipeline("Rep's", as: world.ann)
        }
        await expectRPCError(.permissionDenied, mentioning: "lacks permission b2b.deal.write") {
            try await world.createDeal(world.rita, pipeline: pipeline.id, seller: seller.id, buyer: annsBuyer.id)
        }
        // Reassigning the opportunity in sales moves the deal to its new owner.
        _ = try await world.sales.call("UpdateOpportunity", Crm_Sales_V1_UpdateOpportunityRequest.with {
            $0.opportunity.id = annsDeal.opportunityID
            $0.opportunity.owner = "bob"
            $0.updateMask = ["owner"]
        }, as: SOpportunity.self)
        #expect(try await eventually { (try? await world.getDeal(world.bob, annsDeal.id))?.owner == "bob" })
    }
}
