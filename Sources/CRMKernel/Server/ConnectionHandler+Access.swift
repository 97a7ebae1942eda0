import CRMRPCContract
import CRMWire

extension ConnectionHandler {
    /// Who the call acts for, checked against the method's permission
    /// before anything runs; nil after answering PERMISSION_DENIED. Health
    /// and Reflection are open to every caller. Costs an atomic load, a
    /// dictionary lookup and a permission check per call: the connection
    /// keeps the snapshot until an Access write publishes a newer one.
    func authorize(_ header: Crm_Rpc_V1_FrameHeader, _ route: Route) -> Principal?? {
        let service = route.service
        if AccessControl.isOpen(service: service) { return .some(nil) }
        let access = shared.access
        if accessSnapshot?.version != access.version { accessSnapshot = access.snapshot() }
        let uid = peer.map { Int64($0.uid) } ?? -1
        do {
            var principal: Principal?
            if let peer {
                principal = try access.principal(uid: peer.uid, assertedUser: assertedUser(header, peer),
                                                 in: accessSnapshot!)
            }
            if let denial = AccessControl.denial(principal, service: service, permission: route.semantics.permission,
                                                 uid: uid) {
                throw denial
            }
            return .some(principal)
        } catch let error as RPCError {
            writeResponse(header.callID, error.code, error.message, payload: [])
            return nil
        } catch {
            writeResponse(header.callID, .permissionDenied, "access check failed", payload: [])
            return nil
        }
    }

    /// The `crm-user` value, counted only from a trusted proxy's uid.
    func assertedUser(_ header: Crm_Rpc_V1_FrameHeader, _ peer: PeerCredentials) -> String? {
        guard shared.access.trustedProxies.contains(peer.uid) else { return nil }
        return header.metadata.first { $0.key == AccessControl.userMetadataKey }?.value
    }

    /// The metadata a plugin sees: `crm-user` is never passed on (the
    /// user crmd believed, if any, is in the call context instead).
    static func pluginMetadata(_ header: Crm_Rpc_V1_FrameHeader) -> [(String, String)] {
        header.metadata.compactMap { $0.key == AccessControl.userMetadataKey ? nil : ($0.key, $0.value) }
    }
}
