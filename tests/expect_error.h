// expect_error: the statement throws exactly the given error type, with a message that
// contains every expected part (the op, the shapes, the value at fault).
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <initializer_list>
#include <string>

namespace tapelm::testing {

template <class Error, class Statement>
void expect_error(Statement statement, std::initializer_list<std::string> parts) {
  try {
    statement();
    ADD_FAILURE() << "no exception; expected one containing '" << *parts.begin() << "'";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(what.find(part), std::string::npos) << "'" << part << "' not in: " << what;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "an exception of another type: " << e.what();
  }
}

}  // namespace tapelm::testing
