import CRMClient
import CRMProto
import Foundation

public typealias MDelivery = Crm_Marketing_V1_Delivery

/// Typed delivery calls, for tests.
extension MarketingClient {
    public func delivery(_ id: Int64) async throws -> MDelivery {
        try await call("GetDelivery", Crm_Marketing_V1_GetDeliveryRequest.with { $0.id = id })
    }

    public func deliveries(person: Int64 = 0, campaign: Int64 = 0, state: Crm_Marketing_V1_DeliveryState = .unspecified,
                           pageSize: Int32 = 0, pageToken: String = "") async throws -> Crm_Marketing_V1_ListDeliveriesResponse {
        try await call("ListDeliveries", Crm_Marketing_V1_ListDeliveriesRequest.with {
            $0.personID = person
            $0.campaignID = campaign
            $0.state = state
            $0.pageSize = pageSize
            $0.pageToken = pageToken
        })
    }

    public func retryDelivery(_ id: Int64, key: String = "") async throws -> MDelivery {
        try await call("RetryDelivery", Crm_Marketing_V1_RetryDeliveryRequest.with {
            $0.id = id
            $0.idempotencyKey = key
        })
    }

    public func deliveryStatus() async throws -> Crm_Marketing_V1_DeliveryStatus {
        try await call("GetDeliveryStatus", Crm_Marketing_V1_GetDeliveryStatusRequest())
    }

    public func sendTestEmail(template: Int64, person: Int64, to: String, key: String = "") async throws -> MDelivery {
        try await call("SendTestEmail", Crm_Marketing_V1_SendTestEmailRequest.with {
            $0.templateID = template
            $0.personID = person
            $0.toAddress = to
            $0.idempotencyKey = key
        })
    }
}
