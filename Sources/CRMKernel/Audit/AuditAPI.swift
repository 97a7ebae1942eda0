import CRMPluginABI
import Foundation

/// crm_access_api.audit and .redact (see AuditLog for the tables).
enum AuditAPI {
    // TODO(audit helper): record the entry in the call's write transaction.
    static let audit: @convention(c) (OpaquePointer?, UnsafePointer<crm_audit_entry>?) -> Int32 = { _, _ in
        Int32(CRM_STATUS_UNIMPLEMENTED.rawValue)
    }

    // TODO(audit helper): redact the record's audit values and stored events.
    static let redact: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32 = { _, _, _ in
        Int32(CRM_STATUS_UNIMPLEMENTED.rawValue)
    }
}
