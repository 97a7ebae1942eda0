/* Compiled as C99 and as C++11 by `make abi-header-check`. plugin.h comes
 * first to prove it needs no other include. */
#include "crm/plugin.h"
#include "crm/plugin_pbc.h"
#include "crm/plugin_sql.h"

#include <string.h>

static const crm_plugin_def def = {CRM_PLUGIN_DEF_SIZE, CRM_PLUGIN_ABI_VERSION, "check", "1.0.0", NULL,
                                   NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, NULL};

/* The make rule checks this exports an unmangled crm_plugin_entry. */
CRM_DECLARE_PLUGIN(def)

int main(void) {
    crm_method_def method;
    memset(&method, 0, sizeof method);
    method.struct_size = CRM_METHOD_DEF_SIZE;
    return crm_status_name(CRM_STATUS_NOT_FOUND)[0] == 'N' && method.struct_size > 0 ? 0 : 1;
}
