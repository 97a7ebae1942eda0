import CRMKernelContract
import CRMPluginABI
import Foundation

/// The C table behind the "crm.access.v1" feature: a call's record scope
/// (here), its audit entries and erasure's redaction (AuditAPI).
enum AccessAPI {
    static let table: UnsafePointer<crm_access_api> = {
        let table = UnsafeMutablePointer<crm_access_api>.allocate(capacity: 1)
        table.initialize(to: crm_access_api(
            struct_size: UInt32(MemoryLayout<crm_access_api>.size),
            scope: accessScope, audit: AuditAPI.audit, redact: AuditAPI.redact))
        return UnsafePointer(table)
    }()
}

private let accessScope: @convention(c) (
    OpaquePointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<crm_record_scope>?
) -> Int32 = { handle, permission, out in
    guard let call = PluginCall.from(handle: handle), let out else { return Int32(CRM_STATUS_INVALID_ARGUMENT.rawValue) }
    let size = Int(out.pointee.struct_size)
    guard size >= MemoryLayout<crm_record_scope>.offset(of: \.reach)! + MemoryLayout<Int32>.size else {
        call.statusMessage = "crm_record_scope.struct_size \(size) does not cover reach"
        return Int32(CRM_STATUS_INVALID_ARGUMENT.rawValue)
    }
    let reach: Crm_Kernel_V1_RecordScope
    let asked = permission.map { String(cString: $0) } ?? call.method.semantics.permission
    // Only NULL means "this method's own": an empty name from a plugin's bug
    // must not fall through to the administrators' branch below.
    if let permission, permission.pointee == 0 {
        call.statusMessage = "scope needs a permission name, or NULL for the method's own"
        return Int32(CRM_STATUS_INVALID_ARGUMENT.rawValue)
    }
    if let principal = call.principal, !asked.isEmpty {
        reach = principal.reach(for: asked)
    } else {
        // No principal: an event delivery or the kernel's own call. No
        // permission declared: only administrators got this far.
        reach = .all
    }
    let owners: OwnerList? = switch reach {
    case .own: call.principal?.ownOwners
    case .team: call.principal?.teamOwners
    default: nil
    }
    out.pointee.reach = switch reach {
    case .own: Int32(CRM_REACH_OWN.rawValue)
    case .team: Int32(CRM_REACH_TEAM.rawValue)
    case .all: Int32(CRM_REACH_ALL.rawValue)
    default: Int32(CRM_REACH_NONE.rawValue)
    }
    if size >= MemoryLayout<crm_record_scope>.size {
        out.pointee.owners = owners.map { UnsafePointer($0.pointers) }
        out.pointee.owner_count = owners?.names.count ?? 0
    }
    return 0
}
