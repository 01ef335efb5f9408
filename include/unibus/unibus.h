// The whole public API of unibus.
#ifndef UNIBUS_UNIBUS_H_
#define UNIBUS_UNIBUS_H_

#include "unibus/ack_handler.h"   // IWYU pragma: export
#include "unibus/admin.h"         // IWYU pragma: export
#include "unibus/broker.h"        // IWYU pragma: export
#include "unibus/capabilities.h"  // IWYU pragma: export
#include "unibus/future.h"        // IWYU pragma: export
#include "unibus/message.h"       // IWYU pragma: export
#include "unibus/options.h"       // IWYU pragma: export
#include "unibus/publisher.h"     // IWYU pragma: export
#include "unibus/subscriber.h"    // IWYU pragma: export

#endif  // UNIBUS_UNIBUS_H_
