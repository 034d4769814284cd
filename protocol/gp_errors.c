#include "protocol/gp_errors.h"

#include <stddef.h>

static const struct {
    int16_t code;
    bool retriable;
    const char *name;
} gp__errors[] = {
#define GP_ERROR(code, name, retriable) {code, retriable, #name},
#include "protocol/gp_errors.def"
#undef GP_ERROR
};

const char *gp_error_name(int16_t code)
{
    for (size_t i = 0; i < sizeof gp__errors / sizeof gp__errors[0]; i++)
        if (gp__errors[i].code == code)
            return gp__errors[i].name;
    return "UNKNOWN";
}

bool gp_error_retriable(int16_t code)
{
    for (size_t i = 0; i < sizeof gp__errors / sizeof gp__errors[0]; i++)
        if (gp__errors[i].code == code)
            return gp__errors[i].retriable;
    return false;
}
