// expect: line 3: system task \$display is not allowed
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = a + b;
  initial forever #1 $display("spam spam spam spam spam spam spam spam spam spam spam spam spam spam spam spam spam");
endmodule
