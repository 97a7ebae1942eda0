import B2BTestClient
import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import SalesTestClient

typealias BDeal = Crm_B2b_V1_Deal
typealias BPipeline = Crm_B2b_V1_DealPipeline

/// Deal calls for the tests: a pipeline, the seller and a buyer, deals.
extension B2BWorld {
    func dealPipeline(_ name: String = "Enterprise", stages: [Crm_B2b_V1_DealStage] = [], key: String = "",
                      as client: B2BClient? = nil) async throws -> BPipeline {
        try await (client ?? admin).call("CreateDealPipeline", Crm_B2b_V1_CreateDealPipelineRequest.with {
            $0.pipeline.name = name
            $0.pipeline.stages = stages
            $0.idempotencyKey = key
        })
    }

    func seller() async throws -> COrganization { try await contacts.createOrganization("Our Company") }

    func buyer(_ name: String = "Acme Industries", owner: String = "") async throws -> COrganization {
        try await contacts.call("CreateOrganization", Crm_Contacts_V1_CreateOrganizationRequest.with {
            $0.organization.name = name; $0.organization.owner = owner
        })
    }

    func createDeal(_ client: B2BClient, pipeline: Int64, seller: Int64, buyer: Int64, name: String = "Fleet renewal",
                    amount: Int64 = 250_000, owner: String = "", person: Int64 = 0, opportunity: Int64 = 0,
                    key: String = "") async throws -> BDeal {
        try await client.call("CreateDeal", Crm_B2b_V1_CreateDealRequest.with {
            $0.pipelineID = pipeline
            $0.sellingOrganizationID = seller
            $0.buyingOrganizationID = buyer
            $0.opportunityID = opportunity
            if opportunity == 0 {
                $0.opportunity = .with {
                    $0.name = name
                    $0.amount = .with { $0.amountMinor = amount; $0.currency = "EUR" }
                    $0.owner = owner
                    $0.personID = person
                }
            }
            $0.idempotencyKey = key
        })
    }

    func move(_ client: B2BClient, _ deal: Int64, to stage: String, reason: String = "") async throws -> BDeal {
        try await client.call("MoveDeal", Crm_B2b_V1_MoveDealRequest.with {
            $0.id = deal; $0.stage = stage; $0.lostReason = reason
        })
    }

    @discardableResult
    func score(_ client: B2BClient, _ deal: Int64, _ criteria: [String], met: Bool = true) async throws -> BDeal {
        var last = BDeal()
        for criterion in criteria {
            last = try await client.call("ScoreDeal", Crm_B2b_V1_ScoreDealRequest.with {
                $0.dealID = deal; $0.criterion = criterion; $0.met = met; $0.evidence = "call notes"
            })
        }
        return last
    }

    func getDeal(_ client: B2BClient, _ id: Int64) async throws -> BDeal {
        try await client.call("GetDeal", Crm_B2b_V1_GetDealRequest.with { $0.id = id })
    }
}
