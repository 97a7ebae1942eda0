import CRMClient
import CRMProto
import Foundation

/// Typed tracking calls, as the web edge makes them, for tests.
extension MarketingClient {
    public func trackOpen(_ token: String, userAgent: String = TrackingAgents.person) async throws -> Crm_Marketing_V1_TrackHitResponse {
        try await call("TrackOpen", hit(token, userAgent))
    }

    public func trackClick(_ token: String, userAgent: String = TrackingAgents.person) async throws -> Crm_Marketing_V1_TrackHitResponse {
        try await call("TrackClick", hit(token, userAgent))
    }

    public func unsubscribePage(_ token: String, userAgent: String = TrackingAgents.person) async throws -> Crm_Marketing_V1_UnsubscribePage {
        try await call("GetUnsubscribePage", hit(token, userAgent))
    }

    public func unsubscribeByToken(_ token: String, userAgent: String = TrackingAgents.person) async throws -> Crm_Marketing_V1_UnsubscribePage {
        try await call("UnsubscribeByToken", hit(token, userAgent))
    }

    public func reportDelivery(_ messageID: String, _ kind: Crm_Marketing_V1_EngagementKind, detail: String = "",
                               key: String = "") async throws -> Crm_Marketing_V1_ReportDeliveryResponse {
        try await call("ReportDelivery", Crm_Marketing_V1_ReportDeliveryRequest.with {
            $0.messageID = messageID
            $0.kind = kind
            $0.detail = detail
            $0.idempotencyKey = key
        })
    }

    public func engagement(person: Int64 = 0, campaign: Int64 = 0, kind: Crm_Marketing_V1_EngagementKind = .unspecified,
                           includeMachine: Bool = false, pageSize: Int32 = 0,
                           pageToken: String = "") async throws -> Crm_Marketing_V1_ListEngagementResponse {
        try await call("ListEngagement", Crm_Marketing_V1_ListEngagementRequest.with {
            $0.personID = person
            $0.campaignID = campaign
            $0.kind = kind
            $0.includeMachine = includeMachine
            $0.pageSize = pageSize
            $0.pageToken = pageToken
        })
    }

    public func attributions(campaign: Int64 = 0, pageSize: Int32 = 0,
                             pageToken: String = "") async throws -> Crm_Marketing_V1_ListAttributionsResponse {
        try await call("ListAttributions", Crm_Marketing_V1_ListAttributionsRequest.with {
            $0.campaignID = campaign
            $0.pageSize = pageSize
            $0.pageToken = pageToken
        })
    }

    private func hit(_ token: String, _ userAgent: String) -> Crm_Marketing_V1_TrackHitRequest {
        .with {
            $0.token = token
            $0.userAgent = userAgent
        }
    }
}

public enum TrackingAgents {
    public static let person = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    public static let imageProxy = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    public static let scanner = "python-requests/2.31.0"
}
