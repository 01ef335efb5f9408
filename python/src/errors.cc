// absl::Status -> the unibus exception of its code (the classes live in unibus/_errors.py).
#include <Python.h>

#include "absl/strings/str_cat.h"
#include "common.h"

namespace unibus::python {
namespace {

// unibus._errors.from_status, looked up once and kept for the life of the process (a
// static nb::object would be released after the interpreter is gone).
PyObject* FromStatus() {
  static PyObject* fn = [] {
    nb::object mod = nb::module_::import_("unibus._errors");
    return nb::object(mod.attr("from_status")).release().ptr();
  }();
  return fn;
}

}  // namespace

nb::object MakeException(const absl::Status& s) {
  return nb::borrow(FromStatus())(static_cast<int>(s.code()),
                                  nb::str(s.message().data(), s.message().size()));
}

bool PythonAlive() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsInitialized() && !Py_IsFinalizing() && nb::is_alive();
#else
  return Py_IsInitialized() && !_Py_IsFinalizing() && nb::is_alive();
#endif
}

bool IsUtf8(const std::string& s) {
  PyObject* decoded = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "strict");
  if (decoded == nullptr) {
    PyErr_Clear();
    return false;
  }
  Py_DECREF(decoded);
  return true;
}

std::string TextOrBytes(nb::handle h, const char* what, bool* utf8) {
  PyObject* o = h.ptr();
  if (PyUnicode_Check(o)) {
    Py_ssize_t n = 0;
    if (const char* p = PyUnicode_AsUTF8AndSize(o, &n)) return std::string(p, n);
    PyErr_Clear();
    if (utf8 != nullptr)
      *utf8 = false;  // lone surrogates: the bytes they stand for go to C++'s UTF-8 check
    nb::object b = nb::steal(PyUnicode_AsEncodedString(o, "utf-8", "surrogateescape"));
    if (!b.is_valid()) throw nb::python_error();
    return std::string(PyBytes_AS_STRING(b.ptr()), PyBytes_GET_SIZE(b.ptr()));
  }
  if (utf8 != nullptr) *utf8 = false;
  if (PyBytes_Check(o)) return std::string(PyBytes_AS_STRING(o), PyBytes_GET_SIZE(o));
  if (PyObject_CheckBuffer(o)) {
    Py_buffer view;
    if (PyObject_GetBuffer(o, &view, PyBUF_SIMPLE) != 0) throw nb::python_error();
    std::string out(static_cast<const char*>(view.buf), view.len);
    PyBuffer_Release(&view);
    return out;
  }
  throw nb::type_error(
      absl::StrCat(what, " must be str or bytes, not ", Py_TYPE(o)->tp_name).c_str());
}

nb::str Text(const std::string& s) {
  return nb::steal<nb::str>(
      PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape"));
}

void BindErrors(nb::module_&) {
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const StatusError& e) {
      nb::object exc = MakeException(e.status);
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    }
  });
}

}  // namespace unibus::python
