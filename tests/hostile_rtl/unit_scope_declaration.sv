// expect: line 1: 'function' outside a module
function automatic [8:0] add(input [7:0] x, input [7:0] y); add = x ^ y; endfunction
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = add(a, b);
endmodule
