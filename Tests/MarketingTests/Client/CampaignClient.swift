import CRMClient
import CRMProto
import Foundation

public typealias MCampaign = Crm_Marketing_V1_Campaign
public typealias MCampaignRecipient = Crm_Marketing_V1_CampaignRecipient

/// Campaign helpers for tests: typed calls.
extension MarketingClient {
    public func createCampaign(_ campaign: MCampaign, key: String = "") async throws -> MCampaign {
        try await call("CreateCampaign", Crm_Marketing_V1_CreateCampaignRequest.with {
            $0.campaign = campaign
            $0.idempotencyKey = key
        })
    }

    public func campaign(_ name: String, segment: Int64, template: Int64 = 0, sendAt: Int64 = 0) -> MCampaign {
        .with {
            $0.name = name
            $0.segmentID = segment
            $0.templateID = template
            $0.sendAtUnixUs = sendAt
        }
    }

    public func abCampaign(_ name: String, segment: Int64, templates: [Int64], share: Int32 = 20,
                           metric: Crm_Marketing_V1_WinnerMetric = .opens, waitUs: Int64 = 1_000_000) -> MCampaign {
        .with {
            $0.name = name
            $0.segmentID = segment
            $0.variants = templates.enumerated().map { i, t in
                .with {
                    $0.label = String(UnicodeScalar(UInt8(65 + i)))
                    $0.templateID = t
                }
            }
            $0.testSharePercent = share
            $0.winnerMetric = metric
            $0.winnerWaitUs = waitUs
        }
    }

    public func getCampaign(_ id: Int64) async throws -> MCampaign {
        try await call("GetCampaign", Crm_Marketing_V1_GetCampaignRequest.with { $0.id = id })
    }

    public func updateCampaign(_ campaign: MCampaign, mask: [String] = [], expectedVersion: Int64 = 0) async throws -> MCampaign {
        try await call("UpdateCampaign", Crm_Marketing_V1_UpdateCampaignRequest.with {
            $0.campaign = campaign
            $0.updateMask = mask
            $0.expectedVersion = expectedVersion
        })
    }

    public func listCampaigns(state: Crm_Marketing_V1_CampaignState = .unspecified, pageSize: Int32 = 0,
                              token: String = "") async throws -> Crm_Marketing_V1_ListCampaignsResponse {
        try await call("ListCampaigns", Crm_Marketing_V1_ListCampaignsRequest.with {
            $0.state = state
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    public func scheduleCampaign(_ id: Int64, sendAt: Int64 = 0, expectedVersion: Int64 = 0) async throws -> MCampaign {
        try await call("ScheduleCampaign", Crm_Marketing_V1_ScheduleCampaignRequest.with {
            $0.id = id
            $0.sendAtUnixUs = sendAt
            $0.expectedVersion = expectedVersion
        })
    }

    public func cancelCampaign(_ id: Int64, expectedVersion: Int64 = 0) async throws -> MCampaign {
        try await call("CancelCampaign", Crm_Marketing_V1_CancelCampaignRequest.with {
            $0.id = id
            $0.expectedVersion = expectedVersion
        })
    }

    public func recipientsPage(_ campaign: Int64, pageSize: Int32 = 0, token: String = "") async throws
        -> Crm_Marketing_V1_ListCampaignRecipientsResponse {
        try await call("ListCampaignRecipients", Crm_Marketing_V1_ListCampaignRecipientsRequest.with {
            $0.campaignID = campaign
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    /// Every recipient, all pages.
    public func recipients(_ campaign: Int64) async throws -> [MCampaignRecipient] {
        var out: [MCampaignRecipient] = []
        var token = ""
        repeat {
            let page = try await recipientsPage(campaign, pageSize: 500, token: token)
            out += page.recipients
            token = page.nextPageToken
        } while !token.isEmpty
        return out
    }

    public func campaignResults(_ campaign: Int64) async throws -> Crm_Marketing_V1_CampaignResults {
        try await call("GetCampaignResults", Crm_Marketing_V1_GetCampaignResultsRequest.with { $0.campaignID = campaign })
    }
}
