// The admin client as the bindings hold it.
#ifndef UNIBUS_PYTHON_ADMIN_H_
#define UNIBUS_PYTHON_ADMIN_H_

#include "unibus/unibus.h"

namespace unibus::python {

struct PyAdmin {
  Admin admin;
};

}  // namespace unibus::python

#endif  // UNIBUS_PYTHON_ADMIN_H_
